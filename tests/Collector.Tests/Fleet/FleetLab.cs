namespace FlowCollector.Collector.Tests.Fleet;

/// <summary>
/// The fleet's two engines, real and on loopback ports of their own: nats-server with JetStream and a PostgreSQL
/// cluster. nats-server can be killed hard and started again on the same store.
/// </summary>
internal sealed class FleetLab : IAsyncDisposable
{
    private readonly NatsServer _nats = new();
    private readonly PostgresServer _postgres;

    private FleetLab(PostgresServer postgres) => _postgres = postgres;

    public string NatsUrl => _nats.Url;

    /// <summary>The settings the fleet service needs to reach both.</summary>
    public string[] Settings(params string[] more) =>
        ["--set", $"Fleet:Nats:Url={NatsUrl}", "--set", $"Fleet:Postgres:ConnectionString={_postgres.ConnectionString}", .. more];

    /// <summary>Starts both, or skips the test when nats-server or PostgreSQL is missing (fails instead under CI).</summary>
    public static async Task<FleetLab> StartAsync()
    {
        NatsServer.Require();
        var lab = new FleetLab(PostgresServer.Start());
        await lab.StartNatsAsync();
        return lab;
    }

    public Task StartNatsAsync() => _nats.StartAsync();

    /// <summary>kill -9 of nats-server: what JetStream acknowledged is on disk.</summary>
    public Task KillNatsAsync() => _nats.KillAsync();

    public string Query(string sql) => _postgres.Query(sql);

    public async ValueTask DisposeAsync()
    {
        await _nats.DisposeAsync();
        await _postgres.DisposeAsync();
    }
}
