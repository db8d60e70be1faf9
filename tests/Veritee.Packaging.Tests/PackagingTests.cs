using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Veritee.Packaging.Tests;

/// <summary>
/// Veritee as .NET users install it (docs/packaging.md): the dotnet tool from the local feed, the libraries a
/// service references, the sample program built against those packages (not project references), and the
/// self-contained single binary on a machine without dotnet.
/// </summary>
public sealed partial class PackagingTests(ShippedArtifacts shipped) : IClassFixture<ShippedArtifacts>
{
    private static readonly string[] Libraries =
        ["Veritee.Sgx", "Veritee.Dcap", "Veritee.Policy", "Veritee.Tokens", "Veritee.Client", "Veritee.Enclave", "Veritee.Service"];

    [Fact]
    public void TheInstalledTool_PrintsItsVersion_AndRunsTheQuickstart()
    {
        var version = ShippedArtifacts.Run(shipped.Tool, ["--version"], shipped.Work, TimeSpan.FromMinutes(1), shipped.Environment());
        Assert.True(version.Exit == 0, version.Output);
        Assert.StartsWith(ShippedArtifacts.Version + "+", version.Output.Trim(), StringComparison.Ordinal);

        var quickstart = ShippedArtifacts.Run(shipped.Tool, ["quickstart"], shipped.Work, TimeSpan.FromMinutes(5), shipped.Environment());
        Assert.True(quickstart.Exit == 0, quickstart.Output);
        Assert.Contains("quickstart: 4 of 4 enclaves attested, validated and matched", quickstart.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Veritee.Sgx")]
    [InlineData("Veritee.Dcap")]
    [InlineData("Veritee.Policy")]
    [InlineData("Veritee.Tokens")]
    [InlineData("Veritee.Client")]
    [InlineData("Veritee.Enclave")]
    [InlineData("Veritee.Service")]
    [InlineData("veritee")]
    public void EveryPackage_CarriesItsMetadata_ReadmeAndSymbols(string id)
    {
        var package = Path.Combine(ShippedArtifacts.Packages, $"{id}.{ShippedArtifacts.Version}.nupkg");
        Assert.True(File.Exists(package), package + " was not produced");
        Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), "no symbol package beside " + package);

        using var zip = ZipFile.OpenRead(package);
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        XDocument nuspec;
        using (var stream = nuspecEntry.Open())
        {
            nuspec = XDocument.Load(stream);
        }

        string? Meta(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.Equal(id, Meta("id"));
        Assert.Equal(ShippedArtifacts.Version, Meta("version"));
        Assert.Equal("MIT", Meta("license"));
        Assert.Equal("README.md", Meta("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Meta("description")));
        Assert.Contains("attestation", Meta("tags") ?? "", StringComparison.Ordinal);
        var repository = nuspec.Descendants().Single(e => e.Name.LocalName == "repository");
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");

        var readme = zip.GetEntry("README.md");
        Assert.NotNull(readme);
        using var reader = new StreamReader(readme.Open());
        Assert.StartsWith("# " + id, reader.ReadLine(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheToolPackage_IsADotnetTool_AndTheLibrariesAreNot()
    {
        using (var tool = ZipFile.OpenRead(Path.Combine(ShippedArtifacts.Packages, $"veritee.{ShippedArtifacts.Version}.nupkg")))
        {
            Assert.Contains(tool.Entries, e => e.FullName == "tools/net10.0/any/DotnetToolSettings.xml");
        }

        foreach (var id in Libraries)
        {
            using var library = ZipFile.OpenRead(Path.Combine(ShippedArtifacts.Packages, $"{id}.{ShippedArtifacts.Version}.nupkg"));
            Assert.Contains(library.Entries, e => e.FullName == $"lib/net10.0/{id}.dll");
            Assert.Contains(library.Entries, e => e.FullName == $"lib/net10.0/{id}.xml");
        }
    }

    [Fact]
    public void TheSample_BuiltFromTheLocalFeed_AttestsAgainstTheInstalledToolsService_AndVerifiesOffline()
    {
        var sample = Path.Combine(ShippedArtifacts.Root, "samples", "AttestAndVerify");
        var output = Path.Combine(shipped.Work, "sample-bin");
        var build = ShippedArtifacts.Run("dotnet", ["build", sample, "-c", "Release", "-o", output, "-p:VeriteeVersion=" + ShippedArtifacts.Version], shipped.Work, TimeSpan.FromMinutes(10), shipped.Environment());
        Assert.True(build.Exit == 0, build.Output);
        Assert.True(File.Exists(Path.Combine(shipped.NuGetCache, "veritee.client", ShippedArtifacts.Version, "veritee.client.nuspec")), "the sample did not restore Veritee.Client from the local feed");

        var data = Path.Combine(shipped.Work, "serve-data");
        var log = Path.Combine(shipped.Work, "serve.log");
        var environment = shipped.Environment();
        using var serve = new System.Diagnostics.Process
        {
            StartInfo = new System.Diagnostics.ProcessStartInfo("bash", ["-c", $"exec '{shipped.Tool}' serve --simulation --urls http://127.0.0.1:0 --data '{data}' > '{log}' 2>&1"]),
        };
        foreach (var (name, value) in environment)
        {
            serve.StartInfo.Environment[name] = value;
        }

        serve.Start();
        try
        {
            var endpoint = WaitForInstance(log, serve);
            var run = ShippedArtifacts.Run("dotnet", [Path.Combine(output, "AttestAndVerify.dll"), endpoint, environment["VERITEE_PLATFORM_DIR"]], shipped.Work, TimeSpan.FromMinutes(2), environment);
            Assert.True(run.Exit == 0, run.Output);
            Assert.Contains("claims match the enclave: True", run.Output, StringComparison.Ordinal);
            Assert.Contains("simulated True", run.Output, StringComparison.Ordinal);
            Assert.Contains("verified offline: STATUS_OK, TCB UpToDate", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            serve.WaitForExit();
        }
    }

    [Fact]
    public void TheSingleFileBinary_RunsWithoutDotnet()
    {
        Assert.True(File.Exists(ShippedArtifacts.SingleFile), ShippedArtifacts.SingleFile + " was not produced");
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(ShippedArtifacts.SingleFile)!));

        // An empty PATH (so no dotnet), no DOTNET_ROOT, a fresh HOME: only what the binary carries.
        var home = Directory.CreateDirectory(Path.Combine(shipped.Work, "bare-home")).FullName;
        var emptyPath = Directory.CreateDirectory(Path.Combine(shipped.Work, "empty-path")).FullName;
        var bare = new Dictionary<string, string> { ["PATH"] = emptyPath, ["HOME"] = home, ["TMPDIR"] = home };
        Assert.NotEqual(0, ShippedArtifacts.Run("/bin/bash", ["-c", "command -v dotnet"], home, TimeSpan.FromSeconds(30), bare, clearEnvironment: true).Exit);

        var version = ShippedArtifacts.Run(ShippedArtifacts.SingleFile, ["--version"], home, TimeSpan.FromMinutes(1), bare, clearEnvironment: true);
        Assert.True(version.Exit == 0, version.Output);
        Assert.StartsWith(ShippedArtifacts.Version + "+", version.Output.Trim(), StringComparison.Ordinal);

        var quickstart = ShippedArtifacts.Run(ShippedArtifacts.SingleFile, ["quickstart"], home, TimeSpan.FromMinutes(5), bare, clearEnvironment: true);
        Assert.True(quickstart.Exit == 0, quickstart.Output);
        Assert.Contains("quickstart: 4 of 4 enclaves attested, validated and matched", quickstart.Output, StringComparison.Ordinal);
    }

    private static string WaitForInstance(string log, System.Diagnostics.Process serve)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            var text = File.Exists(log) ? File.ReadAllText(log) : "";
            if (InstanceLine().Match(text) is { Success: true } match)
            {
                return match.Groups[1].Value;
            }

            Assert.False(serve.HasExited, "veritee serve exited:\n" + text);
            Thread.Sleep(100);
        }

        throw new TimeoutException("veritee serve did not report its instance:\n" + File.ReadAllText(log));
    }

    [GeneratedRegex(@"veritee serve: instance (http://127\.0\.0\.1:\d+),")]
    private static partial Regex InstanceLine();
}
