using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace FlowCollector.Exporters.Fleet;

/// <summary>The fleet service's fixed names.</summary>
public static class FleetNames
{
    /// <summary>The node name of the fleet service and of the incidents it opens on the sums.</summary>
    public const string Node = "fleet";

    /// <summary>Where the fleet service serves HTTP unless told: beside a node's 9750 on the same host.</summary>
    public const string DefaultListen = "0.0.0.0:9751";

    /// <summary>The durable consumers' names: a restarted fleet service resumes where they stopped.</summary>
    public const string EventConsumer = "flowcollector-fleet-events";

    public const string SummaryConsumer = "flowcollector-fleet-summaries";
}

/// <summary>
/// Where the fleet's messages go: SUBJECT.events.NODE (incident events, kept for days) and SUBJECT.summaries.NODE
/// (per-second summaries, kept a minute: they are only worth something while the fleet can still judge their second).
/// Whoever comes first, a node or the fleet service, creates the two streams.
/// </summary>
public static class FleetSubjects
{
    /// <summary>How long JetStream remembers a message id, so that a publish retried after a lost ack is stored once.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromMinutes(2);

    public static string Events(string prefix, string node) => $"{prefix}.events.{node}";

    public static string Summaries(string prefix, string node) => $"{prefix}.summaries.{node}";

    public static string EventStream(string prefix) => prefix.ToUpperInvariant().Replace('-', '_') + "_EVENTS";

    public static string SummaryStream(string prefix) => prefix.ToUpperInvariant().Replace('-', '_') + "_SUMMARIES";

    /// <summary>Whether the text is one subject token as this product names them: letters, digits, - and _.</summary>
    public static bool IsToken(string? text) =>
        !string.IsNullOrEmpty(text) && text.Length <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The node the subject names (its last token).</summary>
    public static string NodeOf(string subject) => subject[(subject.LastIndexOf('.') + 1)..];

    /// <summary>The connection options both sides use: reconnect for ever, a name the server's monitoring shows.</summary>
    public static NatsOpts Connection(NatsOptions options, string name) => NatsOpts.Default with
    {
        Url = options.Url,
        Name = name,
        MaxReconnectRetry = -1,
        ReconnectWaitMin = TimeSpan.FromMilliseconds(500),
        ReconnectWaitMax = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(5),
        RetryOnInitialConnect = true,
        AuthOpts = options.CredentialsFile.Length > 0 ? NatsAuthOpts.Default with { CredsFile = options.CredentialsFile } : NatsAuthOpts.Default,
    };

    /// <summary>Creates the streams that do not exist yet; existing ones are left as their owner configured them.</summary>
    public static async Task EnsureStreamsAsync(NatsJSContext js, string prefix, int eventRetentionHours, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(js);
        await EnsureAsync(js, new StreamConfig(EventStream(prefix), [$"{prefix}.events.*"])
        {
            Storage = StreamConfigStorage.File,
            MaxAge = TimeSpan.FromHours(eventRetentionHours),
            DuplicateWindow = DuplicateWindow,
            Discard = StreamConfigDiscard.Old,
        }, cancellation).ConfigureAwait(false);
        await EnsureAsync(js, new StreamConfig(SummaryStream(prefix), [$"{prefix}.summaries.*"])
        {
            Storage = StreamConfigStorage.File,
            MaxAge = TimeSpan.FromMinutes(1),
            DuplicateWindow = TimeSpan.FromMinutes(1),
            Discard = StreamConfigDiscard.Old,
        }, cancellation).ConfigureAwait(false);
    }

    private static async Task EnsureAsync(NatsJSContext js, StreamConfig config, CancellationToken cancellation)
    {
        try
        {
            await js.GetStreamAsync(config.Name!, cancellationToken: cancellation).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (exception.Error.Code == 404)
        {
            try
            {
                await js.CreateStreamAsync(config, cancellation).ConfigureAwait(false);
            }
            catch (NatsJSApiException raced) when (raced.Error.ErrCode == 10058)
            {
                // Created meanwhile by another node (stream name already in use): that is the stream wanted.
            }
        }
    }

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
