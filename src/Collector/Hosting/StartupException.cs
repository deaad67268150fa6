namespace FlowCollector.Collector.Hosting;

/// <summary>Why the collector could not start: it decides the exit code.</summary>
internal enum StartFailure
{
    /// <summary>A port, socket, capture or file could not be opened (sysexits EX_UNAVAILABLE).</summary>
    Unavailable,

    /// <summary>The configuration asks for something that cannot be (sysexits EX_CONFIG).</summary>
    Configuration,

    /// <summary>The database is damaged (sysexits EX_DATAERR): restarting will not mend it.</summary>
    DamagedData,
}

/// <summary>A part of the collector could not start; the message names the setting and the reason.</summary>
internal sealed class StartupException : Exception
{
    public StartupException()
    {
    }

    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StartupException(StartFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    public StartFailure Failure { get; }
}
