using System.Diagnostics;
using System.Text;
using Veritee.TestSupport;

namespace Veritee.Packaging.Tests;

/// <summary>
/// What <c>./build.sh pack</c> and <c>./build.sh single-file</c> produce, made once for the test class: the packages in
/// artifacts/packages, the tool installed from them into a private tool path, and the single-file binary. Restores
/// use a private NuGet cache so a package packed earlier under the same version is never taken instead.
/// </summary>
public sealed class ShippedArtifacts : IDisposable
{
    public ShippedArtifacts()
    {
        Work = Directory.CreateTempSubdirectory("veritee-packaging-").FullName;
        NuGetCache = Path.Combine(Work, "nuget");
        var pack = Run("bash", ["build.sh", "pack"], Root, TimeSpan.FromMinutes(15));
        Assert.True(pack.Exit == 0, "build.sh pack failed:\n" + pack.Output);
        var single = Run("bash", ["build.sh", "single-file", "linux-x64"], Root, TimeSpan.FromMinutes(15));
        Assert.True(single.Exit == 0, "build.sh single-file failed:\n" + single.Output);
        var install = Run("dotnet", ["tool", "install", "veritee", "--tool-path", ToolPath, "--add-source", Packages, "--version", Version], Work, TimeSpan.FromMinutes(5), Environment());
        Assert.True(install.Exit == 0, "dotnet tool install failed:\n" + install.Output);
    }

    /// <summary>The version build.sh packs (Directory.Build.props VersionPrefix).</summary>
    public const string Version = "0.1.0";

    public static string Root => Vectors.RepositoryRoot;

    public static string Packages => Path.Combine(Root, "artifacts", "packages");

    public static string SingleFile => Path.Combine(Root, "artifacts", "bin", "linux-x64", "veritee");

    public string Work { get; }

    public string NuGetCache { get; }

    public string ToolPath => Path.Combine(Work, "tools");

    public string Tool => Path.Combine(ToolPath, "veritee");

    /// <summary>Environment for restores and the installed tool: the private NuGet cache, and a private simulated platform.</summary>
    public Dictionary<string, string> Environment() => new()
    {
        ["NUGET_PACKAGES"] = NuGetCache,
        ["VERITEE_PLATFORM_DIR"] = Path.Combine(Work, "platform"),
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };

    public void Dispose()
    {
        try
        {
            Directory.Delete(Work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs a program to completion (bounded) and returns its exit code and interleaved stdout+stderr.</summary>
    public static (int Exit, string Output) Run(string file, IEnumerable<string> args, string folder, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null, bool clearEnvironment = false)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        if (clearEnvironment)
        {
            psi.Environment.Clear();
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, $"{file} {string.Join(' ', args)} did not finish in {timeout}:\n{Text(output)}");
        }

        process.WaitForExit();
        return (process.ExitCode, Text(output));
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
