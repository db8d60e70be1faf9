using System.Diagnostics;

namespace Veritee.TestSupport;

/// <summary>Runs a helper program (node, npm) for the compatibility suites, bounded in time.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="file"/> and returns its stdout; throws with stderr when it fails or times out.</summary>
    public static string Run(string file, string args, string folder, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in time");
        }

        return process.ExitCode == 0 ? stdout.Result : throw new InvalidOperationException($"{file} {args} exited {process.ExitCode}: {stderr.Result}");
    }

    /// <summary>Makes sure a compatibility suite's npm packages are installed (npm ci from its lock file).</summary>
    public static string CompatSuite(string name, string probePackage)
    {
        var folder = Path.Combine(Vectors.RepositoryRoot, "tests", "compat", name);
        if (!Directory.Exists(Path.Combine(folder, "node_modules", probePackage)))
        {
            Run("npm", "ci --no-audit --no-fund", folder);
        }

        return folder;
    }
}
