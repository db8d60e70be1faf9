using SharpFuzz;
using Veritee.Dcap.X509;
using Veritee.Fuzz;
using Veritee.Sgx;

// dotnet Veritee.Fuzz.dll list                      the targets
// dotnet Veritee.Fuzz.dll TARGET                    run under afl-fuzz (SharpFuzz fork server); alone, runs stdin once
// dotnet Veritee.Fuzz.dll TARGET --libfuzzer        run under a libFuzzer driver (SharpFuzz shared-memory protocol)
// dotnet Veritee.Fuzz.dll TARGET --replay PATH...   run files (or every file in folders) once each, report crashes
// dotnet Veritee.Fuzz.dll selftest                 a target that crashes on inputs starting "Z" (checks the tooling)
// dotnet Veritee.Fuzz.dll seed OUTDIR               write the seed corpora from tests/vectors into OUTDIR/TARGET/
var root = Environment.GetEnvironmentVariable("VERITEE_REPO")
    ?? FuzzTargets.FindRepositoryRoot(Environment.CurrentDirectory)
    ?? FuzzTargets.FindRepositoryRoot(AppContext.BaseDirectory);
if (root is null)
{
    Console.Error.WriteLine("repository root not found: run from the repository or set VERITEE_REPO");
    return 2;
}

var targets = new FuzzTargets(root);
if (args.Length == 0 || args[0] is "list" or "-h" or "--help")
{
    Console.WriteLine("usage: Veritee.Fuzz TARGET [--libfuzzer | --replay PATH...] | seed OUTDIR | list");
    foreach (var t in targets.All)
    {
        Console.WriteLine($"  {t.Name,-24} {t.Description}");
    }

    return args.Length == 0 ? 2 : 0;
}

if (args[0] == "seed")
{
    return Seeds.Write(root, args.Length > 1 ? args[1] : Path.Combine(root, "fuzz", "corpus"), targets);
}

// "selftest" proves the crash path of the tooling: it crashes (an undocumented exception) on inputs starting "Z".
var target = args[0] == "selftest"
    ? new FuzzTarget("selftest", "crashes on inputs starting with Z", input =>
    {
        // Some instrumented code must run, or afl-fuzz stops with "No instrumentation detected".
        _ = targets.Find("quote")!.Execute(input);
        if (input.Length > 0 && input[0] == (byte)'Z')
        {
            throw new InvalidOperationException("selftest crash");
        }
    }, [])
    : targets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target '{args[0]}' (see: list)");
    return 2;
}

if (args.Length > 1 && args[1] == "--replay")
{
    var crashes = 0;
    var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]);
    foreach (var file in files)
    {
        try
        {
            var refused = target.Execute(File.ReadAllBytes(file));
            Console.WriteLine($"{file}: {(refused is null ? "accepted" : "refused: " + refused.GetType().Name + ": " + refused.Message)}");
        }
        catch (Exception e)
        {
            crashes++;
            Console.WriteLine($"{file}: CRASH {e}");
        }
    }

    return crashes == 0 ? 0 : 1;
}

if (args.Length > 1 && args[1] == "--libfuzzer")
{
    Fuzzer.LibFuzzer.Run(span => target.Execute(span.ToArray()));
    return 0;
}

// A crash is any exception the target does not document: it escapes, SharpFuzz reports it to afl-fuzz.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target.Execute(buffer.ToArray());
});
return 0;

/// <summary>Writes the seed corpora: small, valid inputs for each target taken from tests/vectors.</summary>
internal static class Seeds
{
    public static int Write(string root, string outDir, FuzzTargets targets)
    {
        var vectors = Path.Combine(root, "tests", "vectors");
        var cases = Directory.GetDirectories(Path.Combine(vectors, "dcap", "cases")).Order(StringComparer.Ordinal).ToArray();
        var maa = Path.Combine(vectors, "maa");
        var seeds = targets.All.ToDictionary(t => t.Name, _ => new List<(string Name, byte[] Bytes)>());

        void Add(string targetName, string name, byte[] bytes)
        {
            var list = seeds[targetName];
            if (!list.Any(s => s.Bytes.AsSpan().SequenceEqual(bytes)))
            {
                list.Add((name, bytes));
            }
        }

        foreach (var dir in cases)
        {
            var id = Path.GetFileName(dir);
            var quote = File.ReadAllBytes(Path.Combine(dir, "quote.bin"));
            Add("quote", id + ".bin", quote);
            Add("verify", id + ".bin", quote);
            Add("oe-report", id + ".oe.bin", OpenEnclaveReport.HasHeader(quote) ? quote : OpenEnclaveReport.Wrap(quote));
            Add("tcb-info", id + ".tcb_info.json", File.ReadAllBytes(Path.Combine(dir, "tcb_info.json")));
            Add("enclave-identity", id + ".qe_identity.json", File.ReadAllBytes(Path.Combine(dir, "qe_identity.json")));
            Add("crl", id + ".pck_crl.der", File.ReadAllBytes(Path.Combine(dir, "pck_crl.der")));
            Add("crl", id + ".root_ca_crl.der", File.ReadAllBytes(Path.Combine(dir, "root_ca_crl.der")));
            var qvl = Path.Combine(dir, "collateral.dcap-qvl.json");
            if (File.Exists(qvl))
            {
                Add("collateral-json", id + ".dcap-qvl.json", File.ReadAllBytes(qvl));
                if (id == FuzzTargets.VerifyCase)
                {
                    Add("verify-collateral", id + ".dcap-qvl.json", File.ReadAllBytes(qvl));
                }
            }

            foreach (var chain in new[] { "tcb_info_issuer_chain.pem", "pck_crl_issuer_chain.pem" })
            {
                foreach (var (der, i) in Pem.DecodeCertificates(File.ReadAllBytes(Path.Combine(dir, chain))).Select((d, i) => (d, i)))
                {
                    Add("certificate", $"{id}.{chain}.{i}.der", der);
                }
            }

            // The PCK certificate and its SGX extension, from the quote's certification data.
            try
            {
                var parsed = Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(quote));
                var pem = parsed.SignatureData.CertificationData.Data.ToArray();
                var first = Pem.DecodeCertificates(pem).FirstOrDefault();
                if (first is not null)
                {
                    Add("certificate", id + ".pck.der", first);
                    if (DcapCertificate.Parse(first).SgxExtension is { } extension)
                    {
                        Add("pck-extension", id + ".sgx-extension.der", extension.ToArray());
                    }
                }
            }
            catch (Exception e) when (e is SgxFormatException or Veritee.Dcap.DcapFormatException)
            {
                Console.Error.WriteLine($"{id}: no PCK certificate seed ({e.Message})");
            }
        }

        foreach (var file in Directory.GetFiles(Path.Combine(vectors, "dcap", "trust")).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(".der", StringComparison.Ordinal))
            {
                Add(name.Contains("crl", StringComparison.Ordinal) ? "crl" : "certificate", name, File.ReadAllBytes(file));
            }
        }

        foreach (var file in Directory.GetFiles(Path.Combine(maa, "sdk-cpp-2022", "evidence"), "*.bin").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(file);
            if (name.StartsWith("oe-report", StringComparison.Ordinal))
            {
                Add("oe-report", name, File.ReadAllBytes(file));
            }
            else if (name.StartsWith("sgx-quote", StringComparison.Ordinal))
            {
                Add("quote", name, File.ReadAllBytes(file));
                Add("verify", name, File.ReadAllBytes(file));
            }
        }

        foreach (var file in Directory.GetFiles(Path.Combine(maa, "policies"), "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            Add("policy", Path.GetFileName(file), File.ReadAllBytes(file));
        }

        var jwsFiles = Directory.GetFiles(Path.Combine(maa, "policies", "docs"), "*.jw?")
            .Concat(Directory.GetFiles(Path.Combine(maa, "sdk-net-2020-isolated"), "policy-*.jws"))
            .Concat(Directory.GetFiles(Path.Combine(maa, "sdk-cpp-2022", "tokens"), "Policy-*.PUT.*.jwt"))
            .Concat(Directory.GetFiles(Path.Combine(maa, "sdk-cpp-2022", "tokens"), "Policy-*reset.jwt"));
        foreach (var file in jwsFiles.Order(StringComparer.Ordinal))
        {
            Add("policy-jws", Path.GetFileName(file), File.ReadAllBytes(file));
        }

        Add("policy-certificate-jws", "certificates-add.request.jwt", File.ReadAllBytes(Path.Combine(maa, "sdk-net-2020-isolated", "certificates-add.request.jwt")));

        foreach (var (name, list) in seeds)
        {
            var dir = Path.Combine(outDir, name);
            Directory.CreateDirectory(dir);
            foreach (var (file, bytes) in list)
            {
                File.WriteAllBytes(Path.Combine(dir, "seed-" + file), bytes);
            }

            Console.WriteLine($"{name}: {list.Count} seeds");
        }

        return 0;
    }
}
