using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.TestSupport;

namespace Veritee.Dcap.Tests;

/// <summary>
/// The TCB rules of docs/verification.md §6 on hand-built inputs, for the outcomes no real vector reaches (Revoked,
/// ConfigurationNeeded, OutOfDateConfigurationNeeded, TDRelaunchAdvisedConfigurationNeeded, QE Revoked/NotSupported,
/// module Revoked), plus PCK CRL revocation by serial with the real Platform CA CRL.
/// </summary>
public class TcbRuleTests
{
    private static readonly DateTimeOffset Date = new(2024, 3, 13, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<TcbStatus, QvlStatus> QeOutOfDateMerge() => new()
    {
        { TcbStatus.UpToDate, QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { TcbStatus.SWHardeningNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { TcbStatus.ConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
        { TcbStatus.ConfigurationAndSWHardeningNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
        { TcbStatus.OutOfDate, QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { TcbStatus.OutOfDateConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
        { TcbStatus.Revoked, QvlStatus.STATUS_TCB_REVOKED },
    };

    public static TheoryData<TcbStatus, QvlStatus> QeUpToDateMerge() => new()
    {
        { TcbStatus.UpToDate, QvlStatus.STATUS_OK },
        { TcbStatus.SWHardeningNeeded, QvlStatus.STATUS_TCB_SW_HARDENING_NEEDED },
        { TcbStatus.ConfigurationNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED },
        { TcbStatus.ConfigurationAndSWHardeningNeeded, QvlStatus.STATUS_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED },
        { TcbStatus.OutOfDate, QvlStatus.STATUS_TCB_OUT_OF_DATE },
        { TcbStatus.OutOfDateConfigurationNeeded, QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED },
        { TcbStatus.Revoked, QvlStatus.STATUS_TCB_REVOKED },
        { TcbStatus.TDRelaunchAdvised, QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED },
        { TcbStatus.TDRelaunchAdvisedConfigurationNeeded, QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED },
    };

    [Fact]
    public void Revoked_platform_level_gives_tcb_revoked_whatever_the_qe()
    {
        TcbLevel[] levels =
        [
            Level("UpToDate", Comps(5, 5), 11),
            Level("OutOfDate", Comps(3, 3), 11),
            Level("Revoked", Comps(1, 1), 5),
        ];

        var (sgx, tdx) = TcbEvaluation.MatchPlatformLevels(levels, Comps(2, 9), 11, isTdx: false, default);
        Assert.Same(levels[2], sgx);
        Assert.Null(tdx);
        Assert.Equal(TcbStatus.Revoked, sgx!.Status);
        Assert.Equal(QvlStatus.STATUS_TCB_REVOKED, TcbEvaluation.ConvergeWithQe(sgx.Status!.Value, QeTcbOutcome.UpToDate));
        Assert.Equal(QvlStatus.STATUS_TCB_REVOKED, TcbEvaluation.ConvergeWithQe(sgx.Status!.Value, QeTcbOutcome.OutOfDate));
        Assert.False(QvlStatus.STATUS_TCB_REVOKED.IsVerified());
    }

    [Fact]
    public void Configuration_needed_level_with_an_up_to_date_qe_is_configuration_needed()
    {
        TcbLevel[] levels = [Level("UpToDate", Comps(4, 4), 13), Level("ConfigurationNeeded", Comps(3, 3), 13), Level("OutOfDate", Comps(2, 2), 13)];
        var (sgx, _) = TcbEvaluation.MatchPlatformLevels(levels, Comps(3, 4), 13, isTdx: false, default);
        Assert.Same(levels[1], sgx);
        var qe = TcbEvaluation.JudgeQeIsvSvn([QeLevel(8, "UpToDate"), QeLevel(5, "OutOfDate")], 8);
        Assert.Equal(QeTcbOutcome.UpToDate, qe.Outcome);
        var final = TcbEvaluation.ConvergeWithQe(sgx!.Status!.Value, qe.Outcome);
        Assert.Equal(QvlStatus.STATUS_TCB_CONFIGURATION_NEEDED, final);
        Assert.True(final.IsVerified());
        Assert.Equal(TcbStatus.ConfigurationNeeded, TcbStatuses.FromQvlStatus(final));
    }

    [Fact]
    public void Out_of_date_qe_with_configuration_needed_platform_is_out_of_date_configuration_needed()
    {
        TcbLevel[] levels = [Level("UpToDate", Comps(4, 4), 13), Level("ConfigurationAndSWHardeningNeeded", Comps(3, 3), 13)];
        var (sgx, _) = TcbEvaluation.MatchPlatformLevels(levels, Comps(3, 3), 13, isTdx: false, default);
        var (outcome, qeLevel) = TcbEvaluation.JudgeQeIsvSvn([QeLevel(8, "UpToDate"), QeLevel(5, "OutOfDate"), QeLevel(2, "Revoked")], 6);
        Assert.Equal(QeTcbOutcome.OutOfDate, outcome);
        Assert.Equal(5, qeLevel!.IsvSvn);
        Assert.Equal(QvlStatus.STATUS_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, TcbEvaluation.ConvergeWithQe(sgx!.Status!.Value, outcome));
    }

    [Theory]
    [MemberData(nameof(QeOutOfDateMerge))]
    public void Out_of_date_qe_merges_as_intel_does(TcbStatus platform, QvlStatus expected)
    {
        Assert.Equal(expected, TcbEvaluation.ConvergeWithQe(platform, QeTcbOutcome.OutOfDate));
    }

    [Theory]
    [MemberData(nameof(QeUpToDateMerge))]
    public void Up_to_date_qe_keeps_the_platform_status(TcbStatus platform, QvlStatus expected)
    {
        Assert.Equal(expected, TcbEvaluation.ConvergeWithQe(platform, QeTcbOutcome.UpToDate));
        Assert.Equal(platform, TcbStatuses.FromQvlStatus(expected));
    }

    public static TheoryData<TcbStatus> AllStatuses() => new(Enum.GetValues<TcbStatus>());

    [Theory]
    [MemberData(nameof(AllStatuses))]
    public void Revoked_or_unsupported_qe_overrides_every_platform_status(TcbStatus platform)
    {
        Assert.Equal(QvlStatus.STATUS_TCB_REVOKED, TcbEvaluation.ConvergeWithQe(platform, QeTcbOutcome.Revoked));
        Assert.Equal(QvlStatus.STATUS_TCB_NOT_SUPPORTED, TcbEvaluation.ConvergeWithQe(platform, QeTcbOutcome.NotSupported));
    }

    [Fact]
    public void Qe_isvsvn_revoked_gives_tcb_revoked()
    {
        EnclaveTcbLevel[] levels = [QeLevel(8, "UpToDate"), QeLevel(5, "OutOfDate"), QeLevel(2, "Revoked")];
        foreach (ushort svn in new ushort[] { 2, 3, 4 })
        {
            var (outcome, level) = TcbEvaluation.JudgeQeIsvSvn(levels, svn);
            Assert.Equal(QeTcbOutcome.Revoked, outcome);
            Assert.Same(levels[2], level);
            Assert.Equal(QvlStatus.STATUS_TCB_REVOKED, TcbEvaluation.ConvergeWithQe(TcbStatus.UpToDate, outcome));
        }

        Assert.Equal(QeTcbOutcome.UpToDate, TcbEvaluation.JudgeQeIsvSvn(levels, 9).Outcome);
        Assert.Equal(QeTcbOutcome.OutOfDate, TcbEvaluation.JudgeQeIsvSvn(levels, 5).Outcome);
    }

    [Fact]
    public void Qe_isvsvn_below_every_level_is_not_supported()
    {
        EnclaveTcbLevel[] levels = [QeLevel(8, "UpToDate"), QeLevel(5, "OutOfDate")];
        var (outcome, level) = TcbEvaluation.JudgeQeIsvSvn(levels, 4);
        Assert.Equal(QeTcbOutcome.NotSupported, outcome);
        Assert.Null(level);
        Assert.Equal(QvlStatus.STATUS_TCB_NOT_SUPPORTED, TcbEvaluation.ConvergeWithQe(TcbStatus.UpToDate, outcome));
        Assert.False(QvlStatus.STATUS_TCB_NOT_SUPPORTED.IsVerified());
    }

    [Fact]
    public void Revoked_tdx_module_makes_every_tdx_level_revoked()
    {
        var identity = Module("TDX_01", QeLevel(5, "UpToDate"), QeLevel(0, "Revoked"));
        var (module, error) = TcbEvaluation.JudgeTdxModule(identity, Tee(2, 1, 3));
        Assert.Null(error);
        Assert.Equal(TcbStatus.Revoked, module);
        foreach (var level in Enum.GetValues<TcbStatus>())
        {
            Assert.Equal(TcbStatus.Revoked, TcbEvaluation.ConvergeWithTdxModule(level, module));
        }

        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.JudgeTdxModule(identity, Tee(5, 1, 3)).Status);
    }

    [Fact]
    public void Tdx_module_status_rules()
    {
        var identity = Module("TDX_03", QeLevel(5, "UpToDate"), QeLevel(3, "OutOfDate"));

        // Module version 0: the module is judged by the TDX components alone.
        Assert.Equal(((TcbStatus?)null, (QvlStatus?)null), TcbEvaluation.JudgeTdxModule(identity, Tee(0, 0, 3)));
        Assert.Equal(((TcbStatus?)TcbStatus.OutOfDate, (QvlStatus?)null), TcbEvaluation.JudgeTdxModule(identity, Tee(4, 3, 3)));
        Assert.Equal(((TcbStatus?)null, (QvlStatus?)QvlStatus.STATUS_TCB_NOT_SUPPORTED), TcbEvaluation.JudgeTdxModule(identity, Tee(2, 3, 3)));
        Assert.Equal(((TcbStatus?)null, (QvlStatus?)QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS),
            TcbEvaluation.JudgeTdxModule(Module("TDX_03", QeLevel(1, "ConfigurationNeeded")), Tee(4, 3, 3)));

        Assert.Equal(TcbStatus.OutOfDate, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.UpToDate, TcbStatus.OutOfDate));
        Assert.Equal(TcbStatus.OutOfDate, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.SWHardeningNeeded, TcbStatus.OutOfDate));
        Assert.Equal(TcbStatus.OutOfDateConfigurationNeeded, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.ConfigurationNeeded, TcbStatus.OutOfDate));
        Assert.Equal(TcbStatus.OutOfDateConfigurationNeeded, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.ConfigurationAndSWHardeningNeeded, TcbStatus.OutOfDate));
        Assert.Equal(TcbStatus.ConfigurationNeeded, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.ConfigurationNeeded, TcbStatus.UpToDate));
        Assert.Equal(TcbStatus.SWHardeningNeeded, TcbEvaluation.ConvergeWithTdxModule(TcbStatus.SWHardeningNeeded, null));
    }

    [Fact]
    public void Td_relaunch_advised_configuration_needed_when_a_configuration_status_is_involved()
    {
        var latest = Level("UpToDate", Comps(3, 3), 13, Comps(5, 0, 3));

        var both = TcbEvaluation.JudgeRelaunch(QeTcbOutcome.UpToDate, TcbStatus.ConfigurationNeeded, TcbStatus.OutOfDateConfigurationNeeded,
            TcbStatus.OutOfDate, latest, Tee(5, 0, 3), null, out var error);
        Assert.Null(error);
        Assert.Equal(TcbStatus.TDRelaunchAdvisedConfigurationNeeded, both);
        Assert.Equal(QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED, TcbEvaluation.ConvergeWithQe(both!.Value, QeTcbOutcome.UpToDate));
        Assert.True(QvlStatus.STATUS_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED.IsVerified());

        // Only the SGX level or only the TDX status being a configuration status is enough.
        Assert.Equal(TcbStatus.TDRelaunchAdvisedConfigurationNeeded, TcbEvaluation.JudgeRelaunch(QeTcbOutcome.UpToDate,
            TcbStatus.ConfigurationAndSWHardeningNeeded, TcbStatus.OutOfDate, TcbStatus.OutOfDate, latest, Tee(6, 0, 4), null, out _));
        Assert.Equal(TcbStatus.TDRelaunchAdvisedConfigurationNeeded, TcbEvaluation.JudgeRelaunch(QeTcbOutcome.UpToDate,
            TcbStatus.UpToDate, TcbStatus.OutOfDateConfigurationNeeded, TcbStatus.OutOfDate, latest, Tee(5, 0, 3), null, out _));
        Assert.Equal(TcbStatus.TDRelaunchAdvised, TcbEvaluation.JudgeRelaunch(QeTcbOutcome.UpToDate,
            TcbStatus.SWHardeningNeeded, TcbStatus.OutOfDate, TcbStatus.OutOfDate, latest, Tee(5, 0, 3), null, out _));
    }

    [Fact]
    public void Td_relaunch_applies_only_when_every_condition_holds()
    {
        var latest = Level("UpToDate", Comps(3, 3), 13, Comps(5, 0, 3));
        TcbStatus? Judge(QeTcbOutcome qe, TcbStatus sgx, TcbStatus tdx, TcbStatus? module, byte[] svn2) =>
            TcbEvaluation.JudgeRelaunch(qe, sgx, tdx, module, latest, svn2, null, out _);

        Assert.Equal(TcbStatus.TDRelaunchAdvised, Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.OutOfDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.UpToDate, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, null, Tee(5, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, Tee(4, 0, 3)));
        Assert.Null(Judge(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, Tee(5, 0, 2)));
    }

    [Fact]
    public void Td_relaunch_with_a_module_version_uses_that_module_identity()
    {
        var latest = Level("UpToDate", Comps(3, 3), 13, Comps(9, 1, 3));
        TdxModuleIdentity[] identities = [Module("TDX_03", QeLevel(2, "UpToDate")), Module("tdx_01", QeLevel(7, "UpToDate"), QeLevel(4, "OutOfDate"))];
        TcbStatus? Judge(byte[] svn2, IReadOnlyList<TdxModuleIdentity> ids, out QvlStatus? error) =>
            TcbEvaluation.JudgeRelaunch(QeTcbOutcome.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate, latest, svn2, ids, out error);

        // SVN2[0] is compared with the identity's newest ISVSVN (7), not with tdxtcbcomponents[0] (9).
        Assert.Equal(TcbStatus.TDRelaunchAdvised, Judge(Tee(7, 1, 3), identities, out var error));
        Assert.Null(error);
        Assert.Null(Judge(Tee(6, 1, 3), identities, out error));
        Assert.Null(error);
        Assert.Null(Judge(Tee(7, 1, 2), identities, out error));
        Assert.Null(Judge(Tee(7, 2, 3), identities, out error));
        Assert.Equal(QvlStatus.STATUS_TDX_MODULE_MISMATCH, error);
    }

    [Fact]
    public void Module_identity_lookup_is_tdx_underscore_two_hex_digits_case_insensitive()
    {
        TdxModuleIdentity[] identities = [Module("tdx_0a", QeLevel(1, "UpToDate")), Module("TDX_1", QeLevel(1, "UpToDate"))];
        Assert.Same(identities[0], TcbEvaluation.FindModuleIdentity(identities, 10));
        Assert.Null(TcbEvaluation.FindModuleIdentity(identities, 1));
        Assert.Null(TcbEvaluation.FindModuleIdentity(null, 1));
    }

    [Fact]
    public void Tdx_components_skip_bytes_0_and_1_when_the_module_version_is_set()
    {
        TcbLevel[] levels =
        [
            Level("UpToDate", Comps(2, 2), 10, Comps(5, 1, 3)),
            Level("OutOfDate", Comps(2, 2), 10, Comps(0, 0, 2)),
        ];

        // TEE_TCB_SVN[1] > 0: byte 0 (3 < 5) is not compared, byte 2 is.
        var (sgx, tdx) = TcbEvaluation.MatchPlatformLevels(levels, Comps(2, 2), 10, isTdx: true, Tee(3, 1, 3));
        Assert.Same(levels[0], sgx);
        Assert.Same(levels[0], tdx);

        // TEE_TCB_SVN[1] == 0: all 16 bytes, so byte 0 fails the first level.
        (sgx, tdx) = TcbEvaluation.MatchPlatformLevels(levels, Comps(2, 2), 10, isTdx: true, Tee(3, 0, 3));
        Assert.Same(levels[0], sgx);
        Assert.Same(levels[1], tdx);

        // Byte 2 and later are still compared when the module version is set.
        (_, tdx) = TcbEvaluation.MatchPlatformLevels(levels, Comps(2, 2), 10, isTdx: true, Tee(9, 9, 2));
        Assert.Same(levels[1], tdx);
        var tail = Tee(9, 9, 9);
        tail[15] = 0;
        TcbLevel[] needsTail = [Level("UpToDate", Comps(2, 2), 10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])];
        Assert.Null(TcbEvaluation.MatchPlatformLevels(needsTail, Comps(2, 2), 10, isTdx: true, tail).Tdx);
    }

    [Fact]
    public void No_matching_level_never_falls_back_to_the_last_level()
    {
        TcbLevel[] levels = [Level("UpToDate", Comps(5, 5), 13), Level("OutOfDate", Comps(3, 3), 10)];

        // Components are compared one by one, not lexicographically: (9, 0) is not above (3, 3).
        AssertNoMatch(TcbEvaluation.MatchPlatformLevels(levels, Comps(9, 0), 13, isTdx: false, default));
        AssertNoMatch(TcbEvaluation.MatchPlatformLevels(levels, Comps(2, 2), 13, isTdx: false, default));

        // PCESVN below every level.
        AssertNoMatch(TcbEvaluation.MatchPlatformLevels(levels, Comps(9, 9), 9, isTdx: false, default));

        // The best matching level wins, not a later one.
        Assert.Same(levels[0], TcbEvaluation.MatchPlatformLevels(levels, Comps(9, 9), 13, isTdx: false, default).Sgx);
        Assert.Same(levels[1], TcbEvaluation.MatchPlatformLevels(levels, Comps(9, 9), 12, isTdx: false, default).Sgx);

        // TDX: the SGX level is the first SGX match; no TDX level is invented when none matches.
        TcbLevel[] tdxLevels =
        [
            Level("UpToDate", Comps(5, 5), 13, Comps(0, 0, 9)),
            Level("OutOfDate", Comps(3, 3), 13, Comps(0, 0, 8)),
            Level("OutOfDate", Comps(1, 1), 13, Comps(0, 0, 7)),
        ];
        var (sgx, tdx) = TcbEvaluation.MatchPlatformLevels(tdxLevels, Comps(4, 4), 13, isTdx: true, Tee(0, 0, 6));
        Assert.Same(tdxLevels[1], sgx);
        Assert.Null(tdx);
    }

    [Fact]
    public void Unrecognised_status_strings_are_not_guessed()
    {
        var level = Level("SomethingNew", Comps(1), 1);
        Assert.Null(level.Status);
        Assert.Same(level, TcbEvaluation.MatchPlatformLevels([level], Comps(1), 1, isTdx: false, default).Sgx);
        Assert.Null(TcbStatuses.Parse("uptodate"));
        Assert.Null(TcbStatuses.Parse("TDRelaunchAdvised"));
        Assert.Null(TcbStatuses.Parse(string.Empty));
        Assert.Null(TcbStatuses.Parse(null));
        Assert.Null(QeLevel(1, "Out Of Date").Status);
        Assert.Equal(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS, ((TcbStatus)99).ToQvlStatus());
        Assert.Equal(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS, TcbEvaluation.ConvergeWithQe((TcbStatus)99, QeTcbOutcome.UpToDate));
        Assert.False(QvlStatus.STATUS_TCB_UNRECOGNIZED_STATUS.IsVerified());
        foreach (var status in Enum.GetValues<TcbStatus>().Where(s => s is not (TcbStatus.TDRelaunchAdvised or TcbStatus.TDRelaunchAdvisedConfigurationNeeded)))
        {
            Assert.Equal(status, TcbStatuses.Parse(status.ToWireString()));
        }
    }

    [Fact]
    public void Platform_ca_crl_revokes_exactly_its_listed_serials()
    {
        var der = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("tdx-v4-uptodate-2025-07"), "pck_crl.der"));
        var crl = CertificateRevocationList.Parse(der);
        Assert.Equal("Intel SGX PCK Platform CA", crl.IssuerCommonName);
        Assert.Equal(44, crl.RevokedSerials.Count);
        Assert.True(crl.HasRequiredExtensions);

        // Serials as openssl prints them; the second has its top bit set (DER carries a leading 00).
        const string Listed = "6fc34e5023e728923435d61aa4b83c618166ad35";
        const string ListedHighBit = "efae6e9715fca13b87e333e8261ed6d990a926ad";
        Assert.True(crl.IsRevoked(CertificateWithSerial(Convert.FromHexString(Listed))));
        Assert.True(crl.IsRevoked(CertificateWithSerial(Convert.FromHexString(ListedHighBit))));

        var notListed = Convert.FromHexString(Listed);
        notListed[^1] ^= 1;
        Assert.False(crl.IsRevoked(CertificateWithSerial(notListed)));
        Assert.False(crl.IsRevoked(CertificateWithSerial(Convert.FromHexString(Listed)[..19])));

        // The case's own PCK certificate is not revoked.
        var leaf = DcapCertificate.Parse(DcapHostileInputTests.PckChain("tdx-v4-uptodate-2025-07")[0]);
        Assert.False(crl.IsRevoked(leaf));

        // The same CRL as PEM and as hex text (with the trailing NUL PCCS adds) lists the same serials.
        var pem = "-----BEGIN X509 CRL-----\n" + Convert.ToBase64String(der, Base64FormattingOptions.InsertLineBreaks) + "\n-----END X509 CRL-----\n";
        Assert.Equal(crl.RevokedSerials.Order(), CertificateRevocationList.Parse(Encoding.ASCII.GetBytes(pem)).RevokedSerials.Order());
        Assert.Equal(crl.RevokedSerials.Order(), CertificateRevocationList.Parse([.. Encoding.ASCII.GetBytes(Convert.ToHexString(der)), 0]).RevokedSerials.Order());
    }

    [Fact]
    public void Root_ca_crl_revokes_nothing_we_use()
    {
        var crl = CertificateRevocationList.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, "intel_sgx_root_ca_crl_2025-03-20.der")));
        Assert.Equal("Intel SGX Root CA", crl.IssuerCommonName);
        foreach (var file in new[] { "intel_sgx_pck_platform_ca.pem", "intel_sgx_pck_processor_ca.pem", "intel_sgx_tcb_signing_2025-05-06_to_2032-05-06.pem" })
        {
            var cert = DcapCertificate.Parse(Pem.DecodeCertificates(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, file)))[0]);
            Assert.False(crl.IsRevoked(cert), file);
        }
    }

    private static void AssertNoMatch((TcbLevel? Sgx, TcbLevel? Tdx) match)
    {
        Assert.Null(match.Sgx);
        Assert.Null(match.Tdx);
    }

    private static DcapCertificate CertificateWithSerial(byte[] serial)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Intel SGX PCK Certificate, O=Veritee test", key, HashAlgorithmName.SHA256);
        using var cert = request.Create(new X500DistinguishedName("CN=Intel SGX PCK Platform CA, O=Veritee test"), X509SignatureGenerator.CreateForECDsa(key),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), serial);
        var parsed = DcapCertificate.Parse(cert.RawData);
        Assert.Equal(Convert.ToHexStringLower(serial.AsSpan().TrimStart((byte)0)), parsed.SerialNumber);
        return parsed;
    }

    private static TcbLevel Level(string status, byte[] sgx, ushort pceSvn, byte[]? tdx = null) => new(sgx, pceSvn, tdx, Date, status, []);

    private static EnclaveTcbLevel QeLevel(ushort isvSvn, string status) => new(isvSvn, Date, status, []);

    private static TdxModuleIdentity Module(string id, params EnclaveTcbLevel[] levels) => new(id, new byte[48], new byte[8], new byte[8], levels);

    /// <summary>16 component SVNs starting with <paramref name="first"/>, the rest zero.</summary>
    private static byte[] Comps(params byte[] first)
    {
        var result = new byte[16];
        first.CopyTo(result, 0);
        return result;
    }

    /// <summary>A TEE_TCB_SVN (or SVN2): module SVN, module version, late microcode SVN, rest zero.</summary>
    private static byte[] Tee(byte svn, byte version, byte microcode) => Comps(svn, version, microcode);
}
