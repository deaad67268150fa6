// Two ways to idle, so that their difference is what Kestrel costs: "kestrel ADDRESS:PORT" serves a /metrics body
// of the collector's size and a /healthz document through the slim builder; "idle" only waits.
using System.Text;

if (args.Length > 0 && args[0] == "idle")
{
    Thread.Sleep(Timeout.Infinite);
    return;
}

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUrls("http://" + (args.Length > 1 ? args[1] : "127.0.0.1:19754"));
builder.Logging.ClearProviders();
var app = builder.Build();
var metrics = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 400).Select(i => $"flowcollector_probe_series{{n=\"{i}\"}} {i}\n")));
app.MapGet("/metrics", async context =>
{
    context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
    await context.Response.Body.WriteAsync(metrics);
});
app.MapGet("/healthz", () => Results.Text("{\"status\":\"ok\"}", "application/json"));
app.Run();
