using System.Runtime.InteropServices;

namespace FlowCollector.Collector.Runtime;

// The kernel's message structures for sendmmsg(2) and recvmmsg(2) on 64-bit Linux (x86-64 and arm64 share them):
// the replay sends with them, the receive loop receives with them.

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVector
{
    public byte* Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MessageHeader
{
    public void* Name;
    public uint NameLength;
    public IoVector* Vector;
    public nuint VectorLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MultipleMessageHeader
{
    public MessageHeader Header;
    public uint Length;
}
