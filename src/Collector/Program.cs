using System.CommandLine;
using FlowCollector.Collector.Commands;
using FlowCollector.Collector.Configuration;

var root = new RootCommand("FlowCollector: NetFlow, IPFIX, sFlow and mirrored traffic to 1-second DDoS detection")
{
    RunCommand.Create(),
    FleetCommand.Create(),
    CheckConfigCommand.Create(),
    DecodeCommand.Create(),
    ReplayCommand.Create(),
    IncidentsCommand.Create(),
    MitigationsCommand.Create(),
    PcapCommand.Create(),
    AlertsCommand.Create(),
    ExaBgpRelayCommand.Create(),
    HealthCommand.Create(),
};

// With no command, run on the configuration file or the embedded defaults.
root.SetAction(_ => RunCommand.Run(new CommandLineOverrides()));
return root.Parse(args).Invoke();
