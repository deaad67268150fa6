using System.CommandLine;
using FlowCollector.Collector.Commands;

var root = new RootCommand("FlowCollector: NetFlow, IPFIX, sFlow and mirrored traffic to 1-second DDoS detection")
{
    DecodeCommand.Create(),
};

return root.Parse(args).Invoke();
