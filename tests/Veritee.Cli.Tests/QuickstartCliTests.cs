using System.Text.RegularExpressions;
using Veritee.Enclave;

namespace Veritee.Cli.Tests;

public class QuickstartCliTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>The temporary folder the first step names.</summary>
    private static string Folder(string output) => Regex.Match(output, @"\(SQLite in (?<dir>\S+), simulation on\)").Groups["dir"].Value;

    [Fact]
    public void Quickstart_attests_validates_and_matches_all_four_sample_enclaves_and_one_TD()
    {
        var (exit, output, error) = Run("quickstart", "--details");
        Assert.True(exit == 0, output + error);
        Assert.Contains("quickstart: 4 of 4 enclaves attested, validated and matched", output, StringComparison.Ordinal);
        foreach (var file in new[] { "enclave.info.debug.json", "enclave.info.release.json", "enclave.info.securityversion.json", "enclave.info.prodid.json" })
        {
            Assert.Contains("== " + file, output, StringComparison.Ordinal);
        }

        Assert.Equal(4, output.Split("PASSED (all 6 checks)").Length - 1);
        Assert.Contains("== td.info.json", output, StringComparison.Ordinal);
        Assert.Contains("Attestation type                   : tdxvm", output, StringComparison.Ordinal);
        Assert.Contains("PASSED (all 13 checks)", output, StringComparison.Ordinal);
        Assert.Contains("quickstart: the TD was attested, validated and matched", output, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"match\s+: False", output);
        Assert.Contains("Simulated platform", output, StringComparison.Ordinal);

        // The folder the steps named is gone, and the output says so.
        var folder = Folder(output);
        Assert.NotEmpty(folder);
        Assert.False(Directory.Exists(folder));
        Assert.EndsWith($"Removed {folder} (--keep keeps it).", output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public void Keep_leaves_the_folder_with_the_quotes_and_says_where()
    {
        var (exit, output, error) = Run("quickstart", "--keep");
        var folder = Folder(output);
        try
        {
            Assert.True(exit == 0, output + error);
            Assert.EndsWith($"Kept {folder} (platform, quotes, data): delete it when done.", output.TrimEnd(), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(folder, "quotes", "enclave.info.release.json")));
            Assert.Empty(TdInfo.Load(Path.Combine(folder, "quotes", "td.info.json")).Inconsistencies());
        }
        finally
        {
            if (folder.Length > 0 && Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
