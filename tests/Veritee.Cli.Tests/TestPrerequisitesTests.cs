using System.Diagnostics;
using System.Security.Cryptography;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>
/// The README's test command on a fresh machine: tools/install-test-prereqs.sh finds what is missing, and the
/// compatibility suites accept only npm packages installed from their current lock file (no test runs npm itself).
/// </summary>
public sealed class TestPrerequisitesTests : IDisposable
{
    private readonly string _suite = Directory.CreateTempSubdirectory("veritee-compat-suite-").FullName;

    public void Dispose() => Directory.Delete(_suite, recursive: true);

    private void WriteSuite(string? stamp, bool withPackage = true)
    {
        File.WriteAllText(Path.Combine(_suite, "package-lock.json"), "{\"lockfileVersion\": 3}\n");
        var modules = Path.Combine(_suite, "node_modules");
        Directory.CreateDirectory(modules);
        if (withPackage)
        {
            Directory.CreateDirectory(Path.Combine(modules, "@azure", "attestation"));
        }

        if (stamp is not null)
        {
            File.WriteAllText(Path.Combine(modules, ProcessRunner.LockStampFile), stamp + "\n");
        }
    }

    private string LockHash() => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(_suite, "package-lock.json"))));

    [Fact]
    public void A_node_modules_folder_without_the_install_stamp_is_not_enough()
    {
        // The old check accepted any node_modules holding the probe package (e.g. a half-finished npm ci).
        WriteSuite(stamp: null);
        Assert.Contains("tools/install-test-prereqs.sh", ProcessRunner.CompatSuiteProblem(_suite, Path.Combine("@azure", "attestation")), StringComparison.Ordinal);
    }

    [Fact]
    public void Packages_installed_from_another_lock_file_are_refused()
    {
        WriteSuite(stamp: new string('0', 64));
        Assert.Contains("another package-lock.json", ProcessRunner.CompatSuiteProblem(_suite, Path.Combine("@azure", "attestation")), StringComparison.Ordinal);
    }

    [Fact]
    public void Packages_stamped_with_the_current_lock_file_are_accepted()
    {
        WriteSuite(stamp: null);
        File.WriteAllText(Path.Combine(_suite, "node_modules", ProcessRunner.LockStampFile), LockHash() + "\n");
        Assert.Null(ProcessRunner.CompatSuiteProblem(_suite, Path.Combine("@azure", "attestation")));

        Directory.Delete(Path.Combine(_suite, "node_modules", "@azure"), recursive: true);
        Assert.Contains("lacks @azure/attestation", ProcessRunner.CompatSuiteProblem(_suite, Path.Combine("@azure", "attestation")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_install_script_names_what_a_bare_machine_lacks()
    {
        // VERITEE_PREREQ_ROOT moves the probed paths to an empty folder: a machine without PostgreSQL and nginx.
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Vectors.RepositoryRoot, "tools", "install-test-prereqs.sh"));
        psi.ArgumentList.Add("--check");
        psi.Environment["VERITEE_PREREQ_ROOT"] = _suite;
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("postgresql nginx", await output, StringComparison.Ordinal);
        Assert.Equal(string.Empty, await error);
    }
}
