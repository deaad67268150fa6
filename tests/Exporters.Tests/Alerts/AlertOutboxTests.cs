using FlowCollector.Exporters.Alerts;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Exporters.Tests.Alerts;

/// <summary>The outbox in a SQLite file on disk: order per incident, coalescing, and what a crash leaves.</summary>
public sealed class AlertOutboxTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("flowcollector-outbox-");
    private readonly DateTimeOffset _now = AlertSamples.Opened;

    private string Database => Path.Combine(_directory.FullName, "flowcollector.db");

    public void Dispose() => _directory.Delete(recursive: true);

    private AlertOutbox Open()
    {
        Assert.True(AlertOutbox.TryOpen(Database, out var outbox, out var error), error);
        return outbox!;
    }

    private static AlertDelivery Delivery(long incident, AlertEventKind kind, string channel = "slack", string document = "{}") => new()
    {
        Id = AlertEvent.NewId(),
        IncidentId = incident,
        Channel = channel,
        Event = kind,
        State = DeliveryState.Pending,
        CreatedAt = AlertSamples.Opened,
        Document = System.Text.Encoding.UTF8.GetBytes(document),
    };

    [Fact]
    public void Claim_OneIncidentsEvents_InOrderAndOneAtATime()
    {
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Opened));
        outbox.Add(Delivery(1, AlertEventKind.Resolved));
        outbox.Add(Delivery(2, AlertEventKind.Opened));

        var first = outbox.Claim("slack", _now, out _)!;
        var second = outbox.Claim("slack", _now, out _)!;

        // Incident 1's resolved waits for its opened; incident 2 does not wait for incident 1.
        Assert.Equal((1L, AlertEventKind.Opened), (first.IncidentId, first.Event));
        Assert.Equal((2L, AlertEventKind.Opened), (second.IncidentId, second.Event));
        Assert.Null(outbox.Claim("slack", _now, out _));
        outbox.MarkSent(first.Row, "HTTP 200 ok", _now);
        Assert.Equal(AlertEventKind.Resolved, outbox.Claim("slack", _now, out _)!.Event);
        Assert.Null(outbox.Claim("discord", _now, out _));
    }

    [Fact]
    public void Claim_RetryNotDue_ReportsWhenAndHoldsTheIncidentsLaterEvents()
    {
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Opened));
        outbox.Add(Delivery(1, AlertEventKind.Resolved));
        var opened = outbox.Claim("slack", _now, out _)!;

        outbox.MarkRetry(opened.Row, "HTTP 503", _now.AddSeconds(4));

        Assert.Null(outbox.Claim("slack", _now.AddSeconds(1), out var due));
        Assert.Equal(_now.AddSeconds(4), due);
        var again = outbox.Claim("slack", _now.AddSeconds(4), out _)!;
        Assert.Equal((opened.Id, 1), (again.Id, again.Attempts));
        Assert.Equal(1, outbox.List(pendingOnly: false).Count(d => d.LastError == "HTTP 503"));
    }

    [Fact]
    public void Reopen_AfterACrashMidSend_TheRowIsSentAgainUnderItsIdAndSentRowsNever()
    {
        string inFlight;
        using (var outbox = Open())
        {
            outbox.Add(Delivery(1, AlertEventKind.Opened));
            outbox.Add(Delivery(2, AlertEventKind.Opened));
            var sent = outbox.Claim("slack", _now, out _)!;
            outbox.MarkSent(sent.Row, "HTTP 200 ok", _now);
            inFlight = outbox.Claim("slack", _now, out _)!.Id;

            // The process dies here: the claimed row is neither sent nor released.
        }

        using var reopened = Open();
        Assert.Equal(1, reopened.Pending);
        var resent = reopened.Claim("slack", _now, out _)!;
        Assert.Equal(inFlight, resent.Id);
        Assert.Null(reopened.Claim("slack", _now, out _));
    }

    [Fact]
    public void TryCoalesce_WaitingUpdate_FoldedAndNotWhileBeingSent()
    {
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Escalated, document: "{\"v\":1}"));

        Assert.True(outbox.TryCoalesce(1, "slack", (id, waiting) => (AlertEventKind.Escalated, "{\"v\":2}"u8.ToArray())));
        var claimed = outbox.Claim("slack", _now, out _)!;
        Assert.Equal("{\"v\":2}", System.Text.Encoding.UTF8.GetString(claimed.Document));

        // Being sent: an update must not change what is already on the wire.
        Assert.False(outbox.TryCoalesce(1, "slack", (id, waiting) => (AlertEventKind.Mitigated, "{\"v\":3}"u8.ToArray())));
    }

    [Fact]
    public void TryCoalesce_OlderWaitingRowBehindANewerOne_NotTouched()
    {
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Mitigated));
        var sending = outbox.Claim("slack", _now, out _)!;
        outbox.Add(Delivery(1, AlertEventKind.Resolved));
        outbox.Release(sending.Row);

        // The newest row is the resolved one; the merge declines it, and the older mitigated row stays as it was.
        Assert.False(outbox.TryCoalesce(1, "slack", (id, waiting) => waiting == AlertEventKind.Mitigated ? (waiting, "{}"u8.ToArray()) : null));
    }

    [Fact]
    public void EndUnrouted_ChannelNoLongerConfigured_FailedWithTheReason()
    {
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Opened, channel: "old"));
        outbox.Add(Delivery(1, AlertEventKind.Opened, channel: "slack"));

        Assert.Equal(1, outbox.EndUnrouted(["slack"]));

        var ended = Assert.Single(outbox.List(pendingOnly: false), d => d.Channel == "old");
        Assert.Equal((DeliveryState.Failed, "channel old is no longer configured"), (ended.State, ended.LastError));
        Assert.Equal(1, outbox.Pending);
    }

    [Fact]
    public void TryOpen_SharesTheStoresDatabase_SchemaMigratedOnce()
    {
        Assert.True(IncidentStore.TryOpen(Database, out var store, out var error), error);
        store!.Dispose();
        using var outbox = Open();
        outbox.Add(Delivery(1, AlertEventKind.Opened));
        Assert.Single(outbox.OfIncident(1));
    }
}
