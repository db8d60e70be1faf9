using System.CommandLine;
using System.Security.Cryptography;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee genquote</c>: the samples' first half. An enclave holding an RSA-2048 key gets a quote over
/// SHA-256(its public key) and the result is saved as the samples' <c>enclave.info.*.json</c>. With <c>--tdx</c>, a TD
/// gets a quote over SHA-256(runtime data) ‖ 32 zeros, saved with the runtime data as <c>td.info.json</c>.
/// </summary>
internal static class GenquoteCommand
{
    public static Command Create(CliIo io)
    {
        var simulate = new Option<bool>("--simulate") { Description = "Use the simulated SGX platform. Without it, a hardware source (Gramine /dev/attestation, configfs-tsm) is required." };
        var output = new Option<string>("--out") { Description = "Folder for the enclave.info.*.json files (default: the current folder).", DefaultValueFactory = _ => "." };
        var file = new Option<string?>("--file") { Description = "Write one file with this name (with --debug, --product-id, --svn) instead of the samples' four variants." };
        var name = new Option<string?>("--enclave-name") { Description = $"Simulated enclave name; MRENCLAVE = SHA-256 of it (default '{SimulatedEnclave.DefaultName}')." };
        var image = new Option<FileInfo?>("--enclave-image") { Description = "Simulated enclave image; MRENCLAVE = SHA-256 of the file." };
        var signerKey = new Option<FileInfo?>("--signer-key") { Description = "RSA private key (PEM) of the enclave signer; MRSIGNER = SHA-256 of its modulus (default: the platform's signer key)." };
        var productId = new Option<int>("--product-id") { Description = "ISV product id (0..65535).", DefaultValueFactory = _ => 1 };
        var svn = new Option<int>("--svn") { Description = "ISV SVN (0..65535).", DefaultValueFactory = _ => 1 };
        var debug = new Option<bool>("--debug") { Description = "Make the single --file enclave (or with --tdx the TD) a debug enclave (TD)." };
        var ehd = new Option<string?>("--ehd") { Description = "Enclave-held data as hex (default: the enclave's RSA-2048 public key as PEM)." };
        var oeEnvelope = new Option<bool>("--oe-envelope") { Description = "Wrap the quote in the Open Enclave report header (as the OE SDK sample)." };
        var quoteVersion = new Option<int>("--quote-version") { Description = "Quote version of the simulated quoting enclave: 3 or 4 (default 3); with --tdx 4 or 5 (default 4).", DefaultValueFactory = _ => 3 };
        var platform = PlatformCommand.PlatformOption();
        var tdx = new Option<bool>("--tdx") { Description = $"Make a TD quote and write the TD evidence file ({TdInfo.DefaultFileName}: quote, runtime data, MRTD/RTMRs): with --simulate from the simulated TDX platform, else from configfs-tsm in a TD guest." };
        var td15 = new Option<bool>("--td15") { Description = "With --tdx --simulate: a TD 1.5 report (TEE_TCB_SVN2, MRSERVICETD; needs --quote-version 5)." };
        var runtimeData = new Option<FileInfo?>("--runtime-data") { Description = $"With --tdx: the runtime data the quote binds (a file of at most {MaxRuntimeData / 1024} KiB; default: a fresh RSA-2048 public key as PEM)." };
        var runtimeDataType = new Option<string>("--runtime-data-type") { Description = "With --tdx: how the service reads the runtime data: Binary or JSON (default Binary).", DefaultValueFactory = _ => "Binary" };
        var mrtd = new Option<string?>("--mrtd") { Description = "With --tdx --simulate: MRTD as 96 hex digits (default: derived from a fixed TD name)." };
        var rtmr = new Option<string[]>("--rtmr") { Description = "With --tdx --simulate: N=HEX sets RTMR N (0..3) to 96 hex digits; repeatable." };

        var command = new Command("genquote", "Generate quotes and write them with the enclave-held data as the samples' enclave.info.{debug,release,securityversion,prodid}.json; with --tdx, one TD quote with its runtime data as td.info.json. Exit 0 written, 2 error.");
        foreach (var option in new Option[] { simulate, output, file, name, image, signerKey, productId, svn, debug, ehd, oeEnvelope, quoteVersion, platform, tdx, td15, runtimeData, runtimeDataType, mrtd, rtmr })
        {
            command.Options.Add(option);
        }

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var outDir = parse.GetValue(output)!;
            var single = parse.GetValue(file);
            if (single is not null && (single.Length == 0 || Path.GetFileName(single) != single))
            {
                throw new CliException($"--file: '{single}' must be a file name; use --out for the folder");
            }

            List<string> Explicit(params Option[] options) =>
                options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();

            if (parse.GetValue(tdx))
            {
                if (Explicit(name, image, signerKey, productId, svn, ehd, oeEnvelope) is { Count: > 0 } sgxOnly)
                {
                    throw new CliException($"{string.Join(", ", sgxOnly)} apply to SGX enclaves, not with --tdx");
                }

                var td = new TdRequest(
                    parse.GetValue(simulate), outDir, single ?? TdInfo.DefaultFileName, parse.GetValue(debug), parse.GetValue(td15),
                    parse.GetResult(quoteVersion) is { Implicit: false } ? parse.GetValue(quoteVersion) : 4,
                    parse.GetValue(runtimeData), parse.GetValue(runtimeDataType)!, parse.GetValue(mrtd), parse.GetValue(rtmr) ?? [],
                    PlatformCommand.PlatformFolder(parse, platform), parse.GetValue(platform));
                if (!td.Simulate && Explicit(debug, td15, quoteVersion, mrtd, rtmr, platform) is { Count: > 0 } simulatedOnly)
                {
                    throw new CliException($"{string.Join(", ", simulatedOnly)} only apply with --simulate: on hardware the TD itself decides its identity");
                }

                return GenerateTd(io, td);
            }

            if (Explicit(td15, runtimeData, runtimeDataType, mrtd, rtmr) is { Count: > 0 } tdOnly)
            {
                throw new CliException($"{string.Join(", ", tdOnly)} only apply with --tdx");
            }

            var ehdBytes = ParseEhd(parse.GetValue(ehd));
            var wrap = parse.GetValue(oeEnvelope);

            if (!parse.GetValue(simulate))
            {
                var identityOptions = new Option[] { name, image, signerKey, productId, svn, debug, quoteVersion, platform }
                    .Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
                if (identityOptions.Count > 0)
                {
                    throw new CliException($"{string.Join(", ", identityOptions)} only apply with --simulate: on hardware the enclave or TD itself decides its identity");
                }

                var source = QuoteSources.Select(simulate: false, () => throw new InvalidOperationException("not reached"));
                using var enclave = new SampleEnclave(ehdBytes);
                var evidence = source.GetQuote(enclave.ReportData);
                var quote = wrap ? OpenEnclaveReport.Wrap(evidence.Quote) : evidence.Quote;
                Directory.CreateDirectory(outDir);
                Write(io, outDir, single ?? "enclave.info.json", EnclaveInfo.FromQuote(quote, enclave.EnclaveHeldData), $"{evidence.Source}, {evidence.TeeType}");
                return ExitCodes.Ok;
            }

            if (single is null && parse.GetValue(debug))
            {
                throw new CliException("--debug applies to a single file (--file); the four variants are one debug and three release enclaves");
            }

            var version = parse.GetValue(quoteVersion);
            if (version is not (3 or 4))
            {
                throw new CliException($"--quote-version: {version} is not 3 or 4");
            }

            var prod = Range(parse.GetValue(productId), "--product-id");
            var isvSvn = Range(parse.GetValue(svn), "--svn");
            Directory.CreateDirectory(outDir);
            var platformFolder = PlatformCommand.PlatformFolder(parse, platform);
            using var simulated = SimulatedPlatform.LoadOrCreate(platformFolder, DateTimeOffset.UtcNow, out var created);
            if (created)
            {
                io.Out.WriteLine($"Created simulated SGX platform in {simulated.Folder}");
            }

            var baseEnclave = new SimulatedEnclave
            {
                MrEnclave = Measure(parse.GetValue(name), parse.GetValue(image)),
                MrSigner = MrSigner(parse.GetValue(signerKey), simulated),
                ProductId = prod,
                SecurityVersion = isvSvn,
            };
            var variants = single is not null
                ? [(single, baseEnclave with { Debug = parse.GetValue(debug) })]
                : SampleVariants.Of(baseEnclave);

            foreach (var (fileName, enclaveIdentity) in variants)
            {
                var info = SampleVariants.Generate(simulated, enclaveIdentity, ehdBytes, version, wrap);
                Write(io, outDir, fileName, info, enclaveIdentity.Debug ? "simulated, debug" : "simulated, release");
            }

            io.Out.WriteLine($"Collateral for these quotes: veritee platform collateral --out DIR{(parse.GetValue(platform) is { Length: > 0 } p ? " --platform " + p : string.Empty)}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>What <c>genquote --tdx</c> was asked for.</summary>
    private sealed record TdRequest(
        bool Simulate, string Folder, string FileName, bool Debug, bool Td15, int Version, FileInfo? RuntimeData, string RuntimeDataType,
        string? MrTd, string[] Rtmrs, string PlatformFolder, string? PlatformOption);

    /// <summary>Largest runtime data file: a token repeats it, and MAA-sized tokens stop near 190 KiB of binary runtime data.</summary>
    internal const int MaxRuntimeData = 192 * 1024;

    private static int GenerateTd(CliIo io, TdRequest request)
    {
        var isJson = request.RuntimeDataType switch
        {
            "Binary" => false,
            "JSON" => true,
            _ => throw new CliException($"--runtime-data-type: '{request.RuntimeDataType}' is not Binary or JSON"),
        };
        var runtime = RuntimeData(request.RuntimeData, isJson);
        var reportData = TdInfo.ReportDataFor(runtime);

        byte[] quote;
        string what;
        if (!request.Simulate)
        {
            // Real TD guests: configfs-tsm (Linux 6.7+); with only /dev/tdx_guest the error says why that cannot quote.
            var evidence = QuoteSources.SelectTd().GetQuote(reportData);
            (quote, what) = (evidence.Quote, evidence.Source);
        }
        else
        {
            if (request.Version is not (4 or 5))
            {
                throw new CliException($"--quote-version: {request.Version} is not 4 or 5 (TD quotes)");
            }

            if (request.Td15 && request.Version != 5)
            {
                throw new CliException("--td15 needs --quote-version 5: version 4 quotes hold TD 1.0 reports only");
            }

            var td = SimulatedTd.CreateDefault(debug: request.Debug);
            if (request.MrTd is not null)
            {
                td = td with { MrTd = Measurement(request.MrTd, "--mrtd") };
            }

            foreach (var assignment in request.Rtmrs)
            {
                var eq = assignment.IndexOf('=', StringComparison.Ordinal);
                if (eq != 1 || assignment[0] is < '0' or > '3')
                {
                    throw new CliException($"--rtmr: '{assignment}' is not N=HEX with N in 0..3");
                }

                td = td.WithRtMr(assignment[0] - '0', Measurement(assignment[2..], $"--rtmr {assignment[0]}"));
            }

            Directory.CreateDirectory(request.Folder);
            using var simulated = SimulatedPlatform.LoadOrCreate(request.PlatformFolder, DateTimeOffset.UtcNow, out var created);
            if (created)
            {
                io.Out.WriteLine($"Created simulated SGX/TDX platform in {simulated.Folder}");
            }

            quote = simulated.TdQuote(td, reportData, request.Version, request.Td15);
            what = $"simulated TD, quote v{request.Version} TD {(request.Td15 ? "1.5" : "1.0")}{(request.Debug ? ", debug" : string.Empty)}";
        }

        Directory.CreateDirectory(request.Folder);
        var info = TdInfo.FromQuote(quote, runtime, isJson);
        var path = Path.Combine(request.Folder, request.FileName);
        info.Save(path);
        io.Out.WriteLine($"Wrote {path} ({what}; MRTD {info.MrTdHex[..16]}…, runtime data {runtime.Length} bytes {info.RuntimeDataType})");
        if (request.Simulate)
        {
            io.Out.WriteLine($"Collateral for this quote: veritee platform collateral --tdx --out DIR{(request.PlatformOption is { Length: > 0 } p ? " --platform " + p : string.Empty)}");
        }

        return ExitCodes.Ok;
    }

    private static byte[] RuntimeData(FileInfo? file, bool isJson)
    {
        byte[] data;
        if (file is null)
        {
            if (isJson)
            {
                throw new CliException("--runtime-data-type JSON needs --runtime-data FILE (the default runtime data is a PEM public key)");
            }

            using var key = RSA.Create(2048);
            return System.Text.Encoding.ASCII.GetBytes(key.ExportSubjectPublicKeyInfoPem() + "\n");
        }

        if (!file.Exists)
        {
            throw new CliException($"--runtime-data: {file}: no such file");
        }

        if (file.Length > MaxRuntimeData)
        {
            throw new CliException($"--runtime-data: {file} has {file.Length} bytes, more than the limit of {MaxRuntimeData}");
        }

        data = File.ReadAllBytes(file.FullName);
        if (isJson)
        {
            try
            {
                using var _ = System.Text.Json.JsonDocument.Parse(data);
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new CliException($"--runtime-data: {file} is declared JSON but does not parse: {e.Message}");
            }
        }

        return data;
    }

    private static byte[] Measurement(string hex, string option) =>
        Hex.TryDecode(hex.Trim(), out var bytes) && bytes.Length == 48
            ? bytes
            : throw new CliException($"{option}: expected 96 hex digits (48 bytes)");

    private static void Write(CliIo io, string folder, string fileName, EnclaveInfo info, string what)
    {
        var path = Path.Combine(folder, fileName);
        info.Save(path);
        io.Out.WriteLine($"Wrote {path} ({what}; MRENCLAVE {info.MrEnclaveHex[..16]}…, product id {info.ProductId}, SVN {info.SecurityVersion})");
    }

    private static byte[]? ParseEhd(string? text)
    {
        if (text is null)
        {
            return null;
        }

        return Hex.TryDecode(text.Trim(), out var bytes) && bytes.Length > 0
            ? bytes
            : throw new CliException("--ehd: expected non-empty hex of even length");
    }

    private static ushort Range(int value, string option) =>
        value is >= 0 and <= ushort.MaxValue ? (ushort)value : throw new CliException($"{option}: {value} is outside 0..65535");

    private static byte[] Measure(string? name, FileInfo? image)
    {
        if (name is not null && image is not null)
        {
            throw new CliException("--enclave-name and --enclave-image are exclusive: MRENCLAVE comes from one of them");
        }

        if (image is not null)
        {
            return image.Exists ? SimulatedEnclave.MeasureImage(image.FullName) : throw new CliException($"--enclave-image: {image} does not exist");
        }

        if (name is { Length: 0 })
        {
            throw new CliException("--enclave-name: must not be empty");
        }

        return SimulatedEnclave.MeasureName(name ?? SimulatedEnclave.DefaultName);
    }

    private static byte[] MrSigner(FileInfo? keyFile, SimulatedPlatform platform)
    {
        if (keyFile is null)
        {
            return SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey);
        }

        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(File.ReadAllText(keyFile.FullName));
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new CliException($"--signer-key: {keyFile} is not an RSA key in PEM: {e.Message}");
        }

        return SimulatedEnclave.MrSignerOf(rsa);
    }
}
