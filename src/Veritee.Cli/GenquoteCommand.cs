using System.CommandLine;
using System.Security.Cryptography;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee genquote</c>: the samples' first half. An enclave holding an RSA-2048 key gets a quote over
/// SHA-256(its public key) and the result is saved as the samples' <c>enclave.info.*.json</c>.
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
        var debug = new Option<bool>("--debug") { Description = "Make the single --file enclave a debug enclave." };
        var ehd = new Option<string?>("--ehd") { Description = "Enclave-held data as hex (default: the enclave's RSA-2048 public key as PEM)." };
        var oeEnvelope = new Option<bool>("--oe-envelope") { Description = "Wrap the quote in the Open Enclave report header (as the OE SDK sample)." };
        var quoteVersion = new Option<int>("--quote-version") { Description = "Quote version of the simulated quoting enclave: 3 or 4.", DefaultValueFactory = _ => 3 };
        var platform = PlatformCommand.PlatformOption();

        var command = new Command("genquote", "Generate quotes and write them with the enclave-held data as the samples' enclave.info.{debug,release,securityversion,prodid}.json. Exit 0 written, 2 error.");
        foreach (var option in new Option[] { simulate, output, file, name, image, signerKey, productId, svn, debug, ehd, oeEnvelope, quoteVersion, platform })
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
