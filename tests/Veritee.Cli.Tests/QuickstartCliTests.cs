namespace Veritee.Cli.Tests;

public class QuickstartCliTests
{
    [Fact]
    public void Quickstart_attests_validates_and_matches_all_four_sample_enclaves()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = VeriteeCommand.Run(["quickstart", "--details"], stdout, stderr);
        var output = stdout.ToString();
        Assert.True(exit == 0, output + stderr);
        Assert.Contains("quickstart: 4 of 4 enclaves attested, validated and matched", output, StringComparison.Ordinal);
        foreach (var file in new[] { "enclave.info.debug.json", "enclave.info.release.json", "enclave.info.securityversion.json", "enclave.info.prodid.json" })
        {
            Assert.Contains("== " + file, output, StringComparison.Ordinal);
        }

        Assert.Equal(4, output.Split("PASSED (all 6 checks)").Length - 1);
        Assert.DoesNotMatch(@"match\s+: False", output);
        Assert.Contains("Simulated platform", output, StringComparison.Ordinal);
    }
}
