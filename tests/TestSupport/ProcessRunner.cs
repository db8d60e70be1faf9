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

    /// <summary>The stamp tools/install-test-prereqs.sh writes after <c>npm ci</c>: the SHA-256 of the lock file it installed.</summary>
    public const string LockStampFile = ".veritee-lock-sha256";

    /// <summary>
    /// The folder of a compatibility suite whose npm packages are installed from its current package-lock.json. Tests
    /// never run npm themselves (two test classes could then write one node_modules at once): the packages come from
    /// tools/install-test-prereqs.sh, which test.sh runs first, and a missing or stale install fails with what to run.
    /// </summary>
    public static string CompatSuite(string name, string probePackage)
    {
        var folder = Path.Combine(Vectors.RepositoryRoot, "tests", "compat", name);
        var problem = CompatSuiteProblem(folder, probePackage);
        return problem is null ? folder : throw new InvalidOperationException(
            $"tests/compat/{name}: {problem}; run tools/install-test-prereqs.sh (./test.sh does) to install the npm packages");
    }

    /// <summary>Why the suite in <paramref name="folder"/> cannot run, or null when its packages match its lock file.</summary>
    public static string? CompatSuiteProblem(string folder, string probePackage)
    {
        var modules = Path.Combine(folder, "node_modules");
        var stamp = Path.Combine(modules, LockStampFile);
        if (!File.Exists(stamp))
        {
            return "node_modules was not installed by tools/install-test-prereqs.sh (no " + LockStampFile + ")";
        }

        var want = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, "package-lock.json"))));
        if (!string.Equals(File.ReadAllText(stamp).Trim(), want, StringComparison.Ordinal))
        {
            return "node_modules was installed from another package-lock.json";
        }

        return Directory.Exists(Path.Combine(modules, probePackage)) ? null : $"node_modules lacks {probePackage.Replace('\\', '/')}";
    }
}
