using System.Diagnostics;

namespace FlowCollector.Exporters.Mitigation;

/// <summary>Runs a system tool (nft, iptables) to its end with a deadline, feeding it stdin.</summary>
public static class CommandRunner
{
    public readonly record struct Result(int ExitCode, string Output, string Error)
    {
        public bool Succeeded => ExitCode == 0;

        public string Reason => Error.Length > 0 ? Error.Trim() : Output.Trim();
    }

    public static Result Run(string file, IEnumerable<string> arguments, string? input = null, int timeoutMilliseconds = 10_000)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (input is not null)
            {
                process.StandardInput.Write(input);
                process.StandardInput.Close();
            }

            if (!process.WaitForExit(timeoutMilliseconds))
            {
                process.Kill(entireProcessTree: true);
                return new Result(-1, string.Empty, $"{file} did not finish in {timeoutMilliseconds} ms");
            }

            return new Result(process.ExitCode, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return new Result(-1, string.Empty, $"cannot run {file}: {exception.Message}");
        }
    }

    /// <summary>The full path of a program on PATH (or the usual sbin directories), or null.</summary>
    public static string? Find(string name)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
        return directories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
