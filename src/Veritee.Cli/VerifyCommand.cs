using System.CommandLine;
using System.Text.Json;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary><c>veritee verify QUOTE --collateral DIR</c>: DCAP verification with Intel QVL's verdict.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliIo io)
    {
        var quote = new Argument<FileInfo>("QUOTE") { Description = "Quote file: raw bytes (optionally with the Open Enclave report header), hex text, the samples' enclave.info JSON file, or a TD evidence file (td.info.json)." };
        var options = new VerifyOptions();
        var json = new Option<bool>("--json") { Description = "Print one JSON object (qvlStatus, verified, tcbStatus, advisoryIds, collateralExpired, …)." };
        var allowExpired = new Option<bool>("--allow-expired-collateral") { Description = "Exit 0 for a verified quote even when its collateral has expired at the verification time (the findings are still reported)." };
        var command = new Command("verify", "Verify an SGX or TDX quote against DCAP collateral (Intel QVL semantics). Exit 0 verified (any TCB status) with collateral valid at the verification time, 1 not verified or collateral expired (unless --allow-expired-collateral), 2 usage or input error.");
        command.Arguments.Add(quote);
        options.AddTo(command);
        command.Options.Add(json);
        command.Options.Add(allowExpired);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var input = options.Read(parse, parse.GetValue(quote)!);
            var result = QuoteVerifier.VerifyCold(input.Quote, input.Collateral, input.Anchor, input.Time);
            var allowExpiredCollateral = parse.GetValue(allowExpired);
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(VerifyReport.Json(result));
            }
            else
            {
                VerifyReport.Text(result, io.Out, allowExpiredCollateral);
            }

            // Intel's verdict ignores expiry (QvE reports it beside the status); a script running
            // `veritee verify && deploy` must not deploy on stale collateral unless it says so.
            return result.IsVerified && (!result.CollateralExpired || allowExpiredCollateral) ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }
}

/// <summary>The inputs shared by <c>verify</c> and <c>bench verify</c>.</summary>
internal sealed class VerifyOptions
{
    public Option<string> Collateral { get; } = new("--collateral") { Description = "Collateral folder (tcb_info.json, qe_identity.json, *_issuer_chain.pem, root_ca_crl.der, pck_crl.der) or a dcap-qvl QuoteCollateralV3 JSON file.", Required = true };

    public Option<string?> At { get; } = new("--at") { Description = "Verification time: unix seconds or ISO-8601 (default: now)." };

    public Option<FileInfo?> TrustAnchor { get; } = new("--trust-anchor") { Description = "PEM certificate or public key replacing the Intel SGX Root CA public key." };

    public void AddTo(Command command)
    {
        command.Options.Add(Collateral);
        command.Options.Add(At);
        command.Options.Add(TrustAnchor);
    }

    public (byte[] Quote, QuoteCollateral Collateral, TrustAnchor Anchor, DateTimeOffset Time) Read(ParseResult parse, FileInfo quoteFile)
    {
        var quote = ReadQuote(quoteFile);
        QuoteCollateral collateral;
        try
        {
            collateral = QuoteCollateral.Load(parse.GetValue(Collateral)!);
        }
        catch (DcapFormatException e)
        {
            throw new CliException("--collateral: " + e.Message);
        }

        var anchor = Veritee.Dcap.TrustAnchor.IntelSgxRootCa;
        if (parse.GetValue(TrustAnchor) is { } anchorFile)
        {
            try
            {
                anchor = Veritee.Dcap.TrustAnchor.Load(File.ReadAllBytes(anchorFile.FullName), anchorFile.Name);
            }
            catch (DcapFormatException e)
            {
                throw new CliException("--trust-anchor: " + e.Message);
            }
        }

        return (quote, collateral, anchor, CliTime.Parse(parse.GetValue(At), DateTimeOffset.UtcNow));
    }

    /// <summary>Raw bytes, hex text, the samples' enclave.info JSON file or a TD evidence file (their QuoteHex), decided by content.</summary>
    private static byte[] ReadQuote(FileInfo file)
    {
        var bytes = File.ReadAllBytes(file.FullName);
        if (bytes.AsSpan().TrimStart(" \r\n\t"u8).StartsWith("{"u8))
        {
            try
            {
                return Veritee.Enclave.TdInfo.IsTdInfo(bytes)
                    ? Veritee.Enclave.TdInfo.Parse(bytes, file.ToString()).Quote
                    : Veritee.Enclave.EnclaveInfo.Parse(bytes, file.ToString()).Quote;
            }
            catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
            {
                // Most of these messages name the file already; name it once.
                throw new CliException(e.Message.StartsWith(file.ToString() + ":", StringComparison.Ordinal) ? e.Message : $"{file}: {e.Message}");
            }
        }

        var text = System.Text.Encoding.ASCII.GetString(bytes).Trim();
        return text.Length > 0 && bytes.All(b => b < 0x80) && Hex.TryDecode(text, out var decoded) ? decoded : bytes;
    }
}

/// <summary>Renders a verification result.</summary>
internal static class VerifyReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Json(VerificationResult r)
    {
        var body = new Dictionary<string, object?>
        {
            ["qvlStatus"] = r.Status.Name(),
            ["verified"] = r.IsVerified,
            ["tcbStatus"] = r.TcbStatus?.ToWireString(),
            ["advisoryIds"] = r.AdvisoryIds,
            ["collateralExpired"] = r.CollateralExpired,
            ["expiryFindings"] = r.ExpiryFindings,
            ["verifiedAt"] = r.VerifiedAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            ["detail"] = r.Detail,
        };
        if (r.Quote is { } q)
        {
            body["quote"] = QuoteSummary(q);
        }

        if (r.Pck is { } pck)
        {
            body["pck"] = new Dictionary<string, object?>
            {
                ["fmspc"] = Hex.Upper(pck.Fmspc),
                ["pceId"] = Hex.Upper(pck.PceId),
                ["pceSvn"] = pck.PceSvn,
                ["tcbComponentSvns"] = pck.TcbComponentSvns.Select(b => (int)b).ToArray(),
                ["sgxType"] = pck.SgxType.ToString(),
            };
        }

        if (r.SgxTcbLevel is { } sgx)
        {
            body["sgxTcbLevel"] = new { status = sgx.TcbStatusText, tcbDate = sgx.TcbDate.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture), advisoryIds = sgx.AdvisoryIds };
        }

        if (r.TdxTcbLevel is { } tdx)
        {
            body["tdxTcbLevel"] = new { status = tdx.TcbStatusText, tcbDate = tdx.TcbDate.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture), advisoryIds = tdx.AdvisoryIds };
        }

        body["tdxModuleStatus"] = r.TdxModuleStatus?.ToWireString();
        body["qeIdentityTcbStatus"] = r.QeIdentityTcbLevel?.TcbStatusText;
        return JsonSerializer.Serialize(body, Indented);
    }

    private static Dictionary<string, object?> QuoteSummary(Quote q)
    {
        var d = new Dictionary<string, object?>
        {
            ["version"] = q.Header.Version,
            ["teeType"] = q.TeeType.ToString(),
            ["bodyType"] = q.BodyType.ToString(),
        };
        if (q.BodyType == QuoteBodyType.SgxReport)
        {
            var r = q.SgxReport;
            d["mrEnclave"] = Hex.Lower(r.MrEnclave.Span);
            d["mrSigner"] = Hex.Lower(r.MrSigner.Span);
            d["isvProdId"] = r.IsvProdId;
            d["isvSvn"] = r.IsvSvn;
            d["isDebuggable"] = r.IsDebuggable;
            d["attributes"] = Hex.Lower(r.Attributes.Span);
            d["reportData"] = Hex.Lower(r.ReportData.Span);
        }
        else
        {
            var t = q.TdReport;
            d["mrTd"] = Hex.Lower(t.MrTd.Span);
            d["rtMr"] = Enumerable.Range(0, 4).Select(i => Hex.Lower(t.RtMr(i).Span)).ToArray();
            d["mrSeam"] = Hex.Lower(t.MrSeam.Span);
            d["teeTcbSvn"] = Hex.Lower(t.TeeTcbSvn.Span);
            d["tdAttributes"] = Hex.Lower(t.TdAttributes.Span);
            d["isDebuggable"] = t.IsDebuggable;
            d["reportData"] = Hex.Lower(t.ReportData.Span);
            if (t.IsTdx15)
            {
                d["teeTcbSvn2"] = Hex.Lower(t.TeeTcbSvn2.Span);
                d["mrServiceTd"] = Hex.Lower(t.MrServiceTd.Span);
            }
        }

        return d;
    }

    public static void Text(VerificationResult r, TextWriter w, bool allowExpiredCollateral = false)
    {
        w.WriteLine(r switch
        {
            { IsVerified: false } => "Quote NOT verified",
            { CollateralExpired: false } => "Quote verified",
            _ when allowExpiredCollateral => "Quote verified; its collateral has expired (accepted: --allow-expired-collateral)",
            _ => "Quote NOT accepted: verified, but its collateral has expired (--allow-expired-collateral accepts it)",
        });
        w.WriteLine($"  status:       {r.Status.Name()}");
        w.WriteLine($"  TCB status:   {r.TcbStatus?.ToWireString() ?? "-"}");
        w.WriteLine($"  advisories:   {(r.AdvisoryIds.Count == 0 ? "-" : string.Join(", ", r.AdvisoryIds))}");
        if (r.Detail is { } detail)
        {
            w.WriteLine($"  reason:       {detail}");
        }

        w.WriteLine(r.EarliestExpiration is null
            ? "  collateral:   not evaluated (verification stopped first)"
            : $"  collateral:   {(r.CollateralExpired ? "EXPIRED at " : "valid at ")}{r.VerifiedAt:yyyy-MM-ddTHH:mm:ssZ}");
        foreach (var finding in r.ExpiryFindings)
        {
            w.WriteLine($"                - {finding}");
        }

        if (r.Quote is not { } q)
        {
            return;
        }

        w.WriteLine($"  quote:        v{q.Header.Version} {q.TeeType} ({q.BodyType})");
        if (q.BodyType == QuoteBodyType.SgxReport)
        {
            var b = q.SgxReport;
            w.WriteLine($"  MRENCLAVE:    {Hex.Lower(b.MrEnclave.Span)}");
            w.WriteLine($"  MRSIGNER:     {Hex.Lower(b.MrSigner.Span)}");
            w.WriteLine($"  product id:   {b.IsvProdId}");
            w.WriteLine($"  SVN:          {b.IsvSvn}");
            w.WriteLine($"  debuggable:   {b.IsDebuggable}");
            w.WriteLine($"  report data:  {Hex.Lower(b.ReportData.Span)}");
        }
        else
        {
            var t = q.TdReport;
            w.WriteLine($"  MRTD:         {Hex.Lower(t.MrTd.Span)}");
            for (var i = 0; i < 4; i++)
            {
                w.WriteLine($"  RTMR{i}:        {Hex.Lower(t.RtMr(i).Span)}");
            }

            w.WriteLine($"  TEE_TCB_SVN:  {Hex.Lower(t.TeeTcbSvn.Span)}");
            w.WriteLine($"  debuggable:   {t.IsDebuggable}");
            w.WriteLine($"  report data:  {Hex.Lower(t.ReportData.Span)}");
        }
    }
}
