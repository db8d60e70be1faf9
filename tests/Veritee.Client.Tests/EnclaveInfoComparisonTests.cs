using System.Text.Json;
using Veritee.Enclave;

namespace Veritee.Client.Tests;

/// <summary>The samples' validatequotes flow on the Azure samples' own enclave.info files.</summary>
public sealed class EnclaveInfoComparisonTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static readonly string[] CheckNames = ["IsDebuggable", "MRENCLAVE", "MRSIGNER", "ProductID", "Security Version", "Enclave Held Data"];

    // The OE SDK sample's four files were made on the platform whose 2022-05 collateral the fixture serves.
    [Theory]
    [InlineData("debug", true)]
    [InlineData("release", false)]
    [InlineData("prodid", false)]
    [InlineData("securityversion", false)]
    public async Task The_OE_samples_files_attest_and_every_check_passes(string variant, bool debuggable)
    {
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("oe-sdk", variant));
        using var client = service.Client();
        var report = await EnclaveInfoComparison.AttestAsync(client, info);
        Assert.Equal(AttestationType.OpenEnclave, report.AttestationType);
        Assert.Equal(CheckNames, report.Checks.Select(c => c.Name));
        Assert.All(report.Checks, c => Assert.True(c.Passed, $"{c.Name}: expected {c.Expected}, actual {c.Actual}"));
        Assert.True(report.AllPassed);
        Assert.Equal(debuggable, report.Result.IsDebuggable);
        Assert.Equal(info.MrEnclaveHex.ToLowerInvariant(), report.Checks[1].Actual);
    }

    [Fact]
    public async Task The_OE_files_ProductID_and_SVN_are_read_as_the_sample_writes_them()
    {
        using var client = service.Client();
        var prodid = await EnclaveInfoComparison.AttestAsync(client, EnclaveInfo.Load(ServiceFixture.SampleFile("oe-sdk", "prodid")));
        Assert.Equal("9999", prodid.Checks[3].Expected);
        Assert.Equal("9999", prodid.Checks[3].Actual);
        var svn = await EnclaveInfoComparison.AttestAsync(client, EnclaveInfo.Load(ServiceFixture.SampleFile("oe-sdk", "securityversion")));
        Assert.Equal("8888", svn.Checks[4].Actual);
    }

    [Theory]
    [InlineData("MrEnclaveHex", 1)]
    [InlineData("MrSignerHex", 2)]
    [InlineData("ProductIdHex", 3)]
    [InlineData("SecurityVersion", 4)]
    [InlineData("Attributes", 0)]
    public async Task A_tampered_expectation_fails_exactly_its_check(string field, int check)
    {
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("oe-sdk", "debug"));
        info = field switch
        {
            "MrEnclaveHex" => info with { MrEnclaveHex = "00" + info.MrEnclaveHex[2..] },
            "MrSignerHex" => info with { MrSignerHex = info.MrSignerHex[..^2] + "00" },
            "ProductIdHex" => info with { ProductIdHex = "02" + info.ProductIdHex[2..] },
            "SecurityVersion" => info with { SecurityVersion = info.SecurityVersion + 1 },
            _ => info with { Attributes = info.Attributes & ~1UL },
        };
        using var client = service.Client();
        var report = await EnclaveInfoComparison.AttestAsync(client, info);
        for (var i = 0; i < report.Checks.Count; i++)
        {
            Assert.Equal(i != check, report.Checks[i].Passed);
        }

        Assert.False(report.AllPassed);
    }

    [Fact]
    public void Hex_is_compared_case_insensitively_and_EHD_byte_for_byte()
    {
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("oe-sdk", "debug"));
        var result = Result(info, mrenclave: info.MrEnclaveHex.ToLowerInvariant(), mrsigner: info.MrSignerHex.ToUpperInvariant());
        Assert.All(EnclaveInfoComparison.Compare(info, result), c => Assert.True(c.Passed, c.Name));

        var ehd = info.EnclaveHeldData;
        ehd[^1] ^= 1;
        var checks = EnclaveInfoComparison.Compare(info, result with { EnclaveHeldData = ehd });
        Assert.False(checks[5].Passed);
        Assert.True(checks.Take(5).All(c => c.Passed));

        // A token without the claims fails every check (absent is never a match).
        var empty = new AttestationResult { Issuer = "x", Claims = JsonDocument.Parse("{}").RootElement };
        Assert.All(EnclaveInfoComparison.Compare(info, empty), c =>
        {
            Assert.False(c.Passed);
            Assert.Equal("(absent)", c.Actual);
        });
    }

    [Theory]
    [InlineData("debug", true)]
    [InlineData("release", false)]
    public void A_raw_quotes_Attributes_are_SGX_flags_whose_DEBUG_bit_is_2(string variant, bool debuggable)
    {
        // The Intel SDK sample writes ATTRIBUTES.FLAGS (7 debug, 5 release): bit 0 (INIT) is set in both.
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("intel-sdk", variant));
        Assert.Equal(AttestationType.SgxEnclave, EnclaveInfoComparison.TypeFor(info.Quote));
        var checks = EnclaveInfoComparison.Compare(info, Result(info) with { IsDebuggable = debuggable });
        Assert.True(checks[0].Passed);
        Assert.Equal(debuggable ? "True" : "False", checks[0].Expected);
        Assert.False(EnclaveInfoComparison.Compare(info, Result(info) with { IsDebuggable = !debuggable })[0].Passed);
    }

    private static AttestationResult Result(EnclaveInfo info, string? mrenclave = null, string? mrsigner = null) => new()
    {
        Issuer = "https://x",
        Claims = JsonDocument.Parse("{}").RootElement,
        IsDebuggable = (info.Attributes & 1) != 0,
        MrEnclave = mrenclave ?? info.MrEnclaveHex.ToLowerInvariant(),
        MrSigner = mrsigner ?? info.MrSignerHex.ToLowerInvariant(),
        ProductId = info.ProductId,
        Svn = info.SecurityVersion,
        EnclaveHeldData = info.EnclaveHeldData,
    };
}

/// <summary>The Intel SDK sample's raw quotes, against their platform's 2025 collateral.</summary>
public sealed class IntelSampleComparisonTests(IntelSampleServiceFixture service) : IClassFixture<IntelSampleServiceFixture>
{
    [Theory]
    [InlineData("debug", true)]
    [InlineData("release", false)]
    [InlineData("prodid", false)]
    [InlineData("securityversion", false)]
    public async Task The_Intel_SDK_samples_files_attest_as_raw_SGX_quotes_and_every_check_passes(string variant, bool debuggable)
    {
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("intel-sdk", variant));
        using var client = service.Client();
        var report = await EnclaveInfoComparison.AttestAsync(client, info);
        Assert.Equal(AttestationType.SgxEnclave, report.AttestationType);
        Assert.All(report.Checks, c => Assert.True(c.Passed, $"{c.Name}: expected {c.Expected}, actual {c.Actual}"));
        Assert.True(report.AllPassed);
        Assert.Equal(debuggable, report.Result.IsDebuggable);
    }

    [Fact]
    public async Task A_wrong_MrEnclaveHex_fails_only_MRENCLAVE()
    {
        var info = EnclaveInfo.Load(ServiceFixture.SampleFile("intel-sdk", "release"));
        using var client = service.Client();
        var report = await EnclaveInfoComparison.AttestAsync(client, info with { MrEnclaveHex = new string('A', 64) });
        Assert.Equal([true, false, true, true, true, true], report.Checks.Select(c => c.Passed));
        Assert.Equal(new string('a', 64), report.Checks[1].Expected);
    }
}
