using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veritee.Dcap.Pccs;
using Veritee.Enclave;
using static Veritee.Dcap.Tests.Pccs.PckSetFixture;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>Every branch of Intel's PCK certificate selection on real simulated PCK certificates.</summary>
public sealed class PckCertificateSelectionTests(PckSetFixture fixture) : IClassFixture<PckSetFixture>
{
    private static readonly PcsTcb High = Tcb(13, 11, 11, 2, 2, 255, 1);
    private static readonly PcsTcb Middle = Tcb(11, 9, 9, 2, 2, 255, 1);
    private static readonly PcsTcb Low = Tcb(5, 5, 5, 2, 2, 255, 1);

    private static PckSelection Select(PcsTcb raw, PckCertificateSet set, IReadOnlyList<PckCertificateEntry>? entries = null, byte[]? tcbInfo = null, ushort pceId = 0) =>
        PckCertificateSelection.Select(raw.ComponentSvns, raw.PceSvn, pceId, entries ?? set.Entries, tcbInfo ?? set.TcbInfo);

    private PckCertificateSet Standard => _standard ??= fixture.Issue([High, Middle, Low]);

    private PckCertificateSet? _standard;

    [Fact]
    public void RawTcbEqualToALevelSelectsThatCertificate()
    {
        var selection = Select(Middle, Standard);
        Assert.True(selection.Succeeded, selection.Message);
        Assert.Equal(Middle.Tcbm, selection.Selected!.Tcbm);
        Assert.Same(Standard.Entries[1].CertificatePem, selection.Selected.CertificatePem);
        Assert.Equal("30606A000000", selection.Fmspc);
        Assert.Equal("PROCESSOR", selection.CaType);
    }

    [Fact]
    public void RawTcbAboveEveryCertificateSelectsTheBest()
    {
        var selection = Select(Tcb(20, 30, 30, 3, 3, 255, 2), Standard);
        Assert.Equal(High.Tcbm, selection.Selected?.Tcbm);
    }

    [Fact]
    public void RawTcbBetweenLevelsSelectsTheHighestItIsAtOrAbove()
    {
        // Components of High, PCESVN of Middle: at or above Middle and Low, below High.
        var selection = Select(Tcb(11, 11, 11, 2, 2, 255, 1), Standard);
        Assert.Equal(Middle.Tcbm, selection.Selected?.Tcbm);
    }

    [Fact]
    public void RawTcbBelowEveryCertificateFails()
    {
        var selection = Select(Tcb(13, 4, 11, 2, 2, 255, 1), Standard);
        Assert.False(selection.Succeeded);
        Assert.Equal(PckSelectionError.NoCertificateForRawTcb, selection.Error);
        Assert.Contains("0D00", selection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IncomparableCertificatesAreSkipped()
    {
        // A is high in component 1, B high in component 2; the raw TCB is at or above B only.
        var a = Tcb(5, 9, 1);
        var b = Tcb(5, 1, 9);
        var set = fixture.Issue([a, b]);
        var selection = Select(Tcb(5, 2, 9), set);
        Assert.Equal(b.Tcbm, selection.Selected?.Tcbm);
        Assert.Equal(PckSelectionError.NoCertificateForRawTcb, Select(Tcb(5, 5, 5), set).Error);
    }

    [Fact]
    public void ACertificateInABetterLevelBucketWinsOverOneMatchingNoLevel()
    {
        // TCB Info knows (5,5) and (3,3); C1 = (6,2) is at or above neither, so it goes to the last bucket even though
        // PCS lists it first; C2 = (3,3) is in the (3,3) bucket. A raw TCB above both gets C2.
        var c1 = Tcb(1, 6, 2);
        var c2 = Tcb(1, 3, 3);
        var set = fixture.Issue([c1, c2], o => o with { TcbInfoLevels = [Tcb(1, 5, 5), Tcb(1, 3, 3)] });
        Assert.Equal(c2.Tcbm, Select(Tcb(1, 6, 5), set).Selected?.Tcbm);

        // Only the last bucket fits: (6,2) is chosen when the raw TCB is below (3,3) in component 2.
        Assert.Equal(c1.Tcbm, Select(Tcb(1, 6, 2), set).Selected?.Tcbm);
    }

    [Fact]
    public void InsideABucketTheHigherCertificateComesFirstWhateverTheListOrder()
    {
        var lower = Tcb(2, 2, 2);
        var higher = Tcb(3, 3, 3);
        var set = fixture.Issue([lower, higher], o => o with { TcbInfoLevels = [Tcb(2, 2, 2)] });
        Assert.Equal(higher.Tcbm, Select(Tcb(4, 4, 4), set).Selected?.Tcbm);
    }

    [Fact]
    public void NotAvailableEntriesAreSkipped()
    {
        var set = fixture.Issue([High, Middle, Low], o => o with { NotAvailable = new HashSet<int> { 0 } });
        Assert.Null(set.Entries[0].CertificatePem);
        Assert.Equal(Middle.Tcbm, Select(Tcb(20, 30, 30, 3, 3, 255, 2), set).Selected?.Tcbm);

        var none = fixture.Issue([High, Middle], o => o with { NotAvailable = new HashSet<int> { 0, 1 } });
        var failed = Select(High, none);
        Assert.Equal(PckSelectionError.NoCertificates, failed.Error);
        Assert.Contains("Not available", failed.Message, StringComparison.Ordinal);
        Assert.Equal(PckSelectionError.NoCertificates, PckCertificateSelection.Select(High.ComponentSvns, High.PceSvn, 0, [], Standard.TcbInfo).Error);
    }

    [Fact]
    public void TcbInfoVersion2ShapeSelectsLikeVersion3()
    {
        var v2 = fixture.Issue([High, Middle, Low], o => o with { TcbInfoVersion = 2 });
        Assert.Contains("\"sgxtcbcomp01svn\"", Encoding.UTF8.GetString(v2.TcbInfo), StringComparison.Ordinal);
        Assert.Equal(Middle.Tcbm, Select(Tcb(12, 10, 10, 2, 2, 255, 1), v2).Selected?.Tcbm);
        Assert.Equal(PckSelectionError.NoCertificateForRawTcb, Select(Tcb(4, 5, 5, 2, 2, 255, 1), v2).Error);
    }

    [Fact]
    public void TcbTypeOtherThanZeroFails()
    {
        var json = Encoding.UTF8.GetString(Standard.TcbInfo).Replace("\"tcbType\":0", "\"tcbType\":1", StringComparison.Ordinal);
        var selection = Select(High, Standard, tcbInfo: Encoding.UTF8.GetBytes(json));
        Assert.Equal(PckSelectionError.TcbTypeUnsupported, selection.Error);
        Assert.Contains("tcbType is 1", selection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedTcbInfoFails()
    {
        Assert.Equal(PckSelectionError.TcbInfoInvalid, Select(High, Standard, tcbInfo: Standard.TcbInfo[..^5]).Error);
        Assert.Equal(PckSelectionError.TcbInfoInvalid, Select(High, Standard, tcbInfo: "{\"tcbInfo\":{\"tcbType\":\"x\"},\"signature\":\"00\"}"u8.ToArray()).Error);
    }

    [Fact]
    public void PceIdOfTheRequestMustMatchTheTcbInfo()
    {
        var selection = Select(High, Standard, pceId: 1);
        Assert.Equal(PckSelectionError.TcbInfoPceIdMismatch, selection.Error);
        Assert.Contains("0100", selection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PceIdOfEveryCertificateMustMatch()
    {
        // TCB Info for PCE-ID 0100 (little-endian 1), certificates for 0000.
        var other = fixture.Issue([High], o => o with { PceId = [1, 0] });
        var selection = Select(High, Standard, tcbInfo: other.TcbInfo, pceId: 1);
        Assert.Equal(PckSelectionError.PceIdMismatch, selection.Error);
        Assert.True(Select(High, other, pceId: 1).Succeeded);
    }

    [Fact]
    public void FmspcOfEveryCertificateMustMatchTheTcbInfo()
    {
        var other = fixture.Issue([High], o => o with { Fmspc = Convert.FromHexString("00906ED50000") });
        var selection = Select(High, Standard, tcbInfo: other.TcbInfo);
        Assert.Equal(PckSelectionError.FmspcMismatch, selection.Error);
        Assert.Contains("00906ED50000", selection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CertificatesOfTwoPlatformsAreRefused()
    {
        var other = fixture.Issue([Low], o => o with { Ppid = new byte[16] });
        var mixed = new[] { Standard.Entries[0], other.Entries[0] };
        Assert.Equal(PckSelectionError.PpidMismatch, Select(High, Standard, entries: mixed).Error);
    }

    [Fact]
    public void AnEntryWhoseCertificateIsForAnotherTcbIsRefused()
    {
        var lying = new[] { Standard.Entries[2] with { Tcb = High, Tcbm = High.Tcbm } };
        var selection = Select(High, Standard, entries: lying);
        Assert.Equal(PckSelectionError.CertificateTcbMismatch, selection.Error);
        Assert.Contains(Low.Tcbm, selection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnparsableCertificateIsRefused()
    {
        var broken = new[] { Standard.Entries[0] with { CertificatePem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" } };
        Assert.Equal(PckSelectionError.CertificateInvalid, Select(High, Standard, entries: broken).Error);
        var notPem = new[] { Standard.Entries[0] with { CertificatePem = "hello" } };
        Assert.Equal(PckSelectionError.CertificateInvalid, Select(High, Standard, entries: notPem).Error);
    }

    [Fact]
    public void PlatformCaSetsSelectWithThePlatformCaType()
    {
        var set = fixture.Issue([High, Low], o => o with { CaType = PckCaType.Platform });
        var selection = Select(High, set);
        Assert.Equal("PLATFORM", selection.CaType);
        Assert.Equal("platform", set.CaTypeHeader);
        Assert.Contains("Platform CA", set.IssuerChainPem.Length > 0 ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(set.CaCertificatePem).Subject : "", StringComparison.Ordinal);
    }

    [Fact]
    public void BadArgumentsFailWithoutThrowing()
    {
        Assert.Equal(PckSelectionError.InvalidInput, PckCertificateSelection.Select(new byte[15], 0, 0, Standard.Entries, Standard.TcbInfo).Error);
        var many = Enumerable.Repeat(Standard.Entries[0], PckCertificateSelection.MaxCertificates + 1).ToArray();
        Assert.Equal(PckSelectionError.InvalidInput, Select(High, Standard, entries: many).Error);
    }

    [Fact]
    public void TheGeneratedTcbInfoVerifiesUnderTheSimulatedRoot()
    {
        // The set's TCB Info is signed by the platform's TCB Signing key, so a fake PCS can serve it as real collateral.
        var info = Collateral.TcbInfo.Parse(Standard.TcbInfo);
        using var key = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(Standard.TcbInfoIssuerChainPem).GetECDsaPublicKey()!;
        Assert.True(key.VerifyData(info.SignedBody.Span, info.Signature, System.Security.Cryptography.HashAlgorithmName.SHA256));
        Assert.Equal(3, info.TcbLevels.Count);
    }
}
