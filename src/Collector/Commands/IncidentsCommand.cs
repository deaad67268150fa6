using System.CommandLine;
using System.Globalization;
using FlowCollector.Collector.Configuration;
using FlowCollector.Detection.Incidents;
using FlowCollector.Exporters.Storage;

namespace FlowCollector.Collector.Commands;

/// <summary><c>flowcollector incidents</c>: the incidents in the database, newest first, as a table or JSON lines.</summary>
internal static class IncidentsCommand
{
    public static Command Create()
    {
        var arguments = new ConfigurationArguments();
        var open = new Option<bool>("--open") { Description = "Only incidents still open" };
        var format = new Option<string>("--format") { Description = "table (default) or jsonl: one JSON object per line, as /api/incidents", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");
        var limit = new Option<int>("--limit") { Description = "At most this many (default 100)", DefaultValueFactory = _ => 100 };
        var command = new Command("incidents", "List incidents from the database") { open, format, limit };
        arguments.AddTo(command);
        command.SetAction(parse => Run(arguments.Read(parse), parse.GetValue(open), parse.GetValue(format) ?? "table", parse.GetValue(limit), Console.Out));
        return command;
    }

    public static int Run(CommandLineOverrides overrides, bool openOnly, string format, int limit, TextWriter output)
    {
        if (!StoreArguments.TryOpen(overrides, out var store, out var exit))
        {
            return exit;
        }

        using (store)
        {
            var incidents = store!.Incidents(openOnly, Math.Max(1, limit));
            if (format == "jsonl")
            {
                foreach (var incident in incidents)
                {
                    output.WriteLine(IncidentJson.Line(incident));
                }

                return 0;
            }

            output.WriteLine($"{"ID",6}  {"OPENED (UTC)",-19}  {"CLOSED (UTC)",-19}  {"TYPE",-26}  {"CONF",4}  {"SEVERITY",-8}  {"PEAK PPS",10}  {"PEAK MBIT/S",11}  KEY");
            foreach (var incident in incidents)
            {
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{incident.Id,6}  {incident.OpenedAt.UtcDateTime,-19:yyyy-MM-dd HH:mm:ss}  {(incident.ClosedAt is { } closed ? closed.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "open"),-19}  {AttackNames.Name(incident.AttackType),-26}  {incident.Confidence,4:0.00}  {AttackNames.Name(incident.Severity),-8}  {incident.PeakPps,10:0}  {incident.PeakBps / 1e6,11:0.0}  {incident.Key}"));
            }
        }

        return 0;
    }
}
