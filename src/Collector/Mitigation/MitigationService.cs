using FlowCollector.Collector.Configuration;
using FlowCollector.Collector.Hosting;
using FlowCollector.Collector.Pipeline;
using FlowCollector.Collector.Runtime;
using FlowCollector.Collector.Storage;
using FlowCollector.Detection.Mitigation;
using FlowCollector.Exporters.Mitigation;
using Microsoft.Extensions.Logging;

namespace FlowCollector.Collector.Mitigation;

/// <summary>
/// Starts the mitigation engine when mitigation is on, in dry run, or when an earlier run left actions recorded as
/// in force (whatever the configuration says now, what the collector owns is reconciled: kept only where the current
/// configuration still wants it). Tools are touched only when needed: nft or iptables when acting or when local rules
/// are owed a withdrawal, ExaBGP's socket when announcing or when announcements are. At stop, everything in force is
/// withdrawn (the incidents stay open in the store; the next start resumes them and applies again, or closes them).
/// </summary>
internal sealed partial class MitigationService(CollectorCore core, StorageService storage, TimeProvider time, ILoggerFactory loggers) : ReleasingService
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowCollector");

    public MitigationWorker? Worker { get; private set; }

    public ExaBgpSpeaker? ExaBgp { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var options = core.Options.Mitigation;
        var store = storage.Store ?? throw new InvalidOperationException("the store starts before mitigation");
        var acting = options.Enabled && !options.DryRun;
        var owed = store.Actions(activeOnly: true, limit: 100_000).Where(a => !a.DryRun).ToList();
        if (!options.Enabled && owed.Count == 0)
        {
            return Task.CompletedTask;
        }

        // The planner adds Mitigation:Allowlist itself; the rest of what is never acted on comes from here.
        var allowlist = EffectiveLists.MitigationAllowlist(core.Options).Where(entry => entry.Source != "Mitigation:Allowlist").Select(entry => entry.Prefix).ToList();

        IMitigationBackend? rules = null;
        var owedLocal = owed.FirstOrDefault(a => a.Kind.IsLocal())?.Kind;
        if (acting || owedLocal is not null)
        {
            // Rules owed a withdrawal are removed with the tool that installed them.
            var backend = acting ? options.Nftables.Backend : owedLocal == ActionKind.Iptables ? "iptables" : "nft";
            rules = backend switch
            {
                "nft" => new NftablesBackend(options.Nftables.Table),
                "iptables" => new IptablesBackend(),
                _ when CommandRunner.Find("nft") is not null => new NftablesBackend(options.Nftables.Table),
                _ when CommandRunner.Find("iptables") is not null => new IptablesBackend(),
                _ => null,
            };
        }

        if (acting && rules is NftablesBackend nft && nft.Owner(out var foreign) == TableOwner.Foreign)
        {
            throw new StartupException(StartFailure.Configuration, $"Mitigation:Nftables:Table: {foreign}");
        }

        var owedBgp = owed.Any(a => !a.Kind.IsLocal());
        if (((acting && options.UsesBgp) || owedBgp) && options.ExaBgp.Socket.Length > 0)
        {
            if (!SocketPath.TryClaim(options.ExaBgp.Socket, out var claim))
            {
                throw new StartupException(StartFailure.Unavailable, $"Mitigation:ExaBgp:Socket: {claim}");
            }

            try
            {
                ExaBgp = new ExaBgpSpeaker(options.ExaBgp.Socket, options.ExaBgp.AckTimeoutMilliseconds);
            }
            catch (Exception exception) when (exception is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
                throw new StartupException(StartFailure.Unavailable, $"Mitigation:ExaBgp:Socket: cannot listen on {options.ExaBgp.Socket} ({exception.Message})");
            }
        }

        var planner = new MitigationPlanner(options, core.Aggregator.Prefixes, allowlist);
        var backends = new MitigationBackends(
            rules,
            ExaBgp is null ? null : new ExaBgpBackend(ActionKind.FlowSpec, ExaBgp),
            ExaBgp is null ? null : new ExaBgpBackend(ActionKind.Rtbh, ExaBgp));
        var logger = loggers.CreateLogger("FlowCollector.Mitigation");
        Worker = new MitigationWorker(new MitigationEngine(options, planner, store, backends, time, logger), time, logger, ExaBgp);
        Worker.Start();
        if (options.Enabled)
        {
            core.Incidents.Subscribe(Worker);
        }

        var mode = Worker.Engine.Mode switch { MitigationMode.On => "on", MitigationMode.DryRun => "dry run", _ => $"off, withdrawing {owed.Count} action(s) an earlier run left" };
        LogMitigation(_logger, mode, rules is null ? "none" : ActionNames.Name(rules.Kind), ExaBgp is null ? "off" : options.ExaBgp.Socket, planner.Allowlist.Count);
        return Task.CompletedTask;
    }

    /// <summary>Everything in force is withdrawn (the worker's engine shuts down), then the relay's socket closes.</summary>
    protected override void Release()
    {
        Worker?.Dispose();
        ExaBgp?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "mitigation {Mode}: local rules through {Backend}, ExaBGP {ExaBgp}, {Allowlisted} allowlisted prefixes")]
    private static partial void LogMitigation(ILogger logger, string mode, string backend, string exaBgp, int allowlisted);
}
