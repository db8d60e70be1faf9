using System.Globalization;
using System.Text;
using Veritee.Dcap;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Lab;
using Veritee.Dcap.Verification;

// qvl-diff: random DCAP scenarios (generate), Veritee's verdict on them (veritee), and the comparison with Intel
// QVL's driver output (compare). See ../README.md; ../run.sh ties the three together.
return args.Length > 0 ? args[0] switch
{
    "generate" when args.Length == 5 => Generator.Run(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture)),
    "veritee" => VeriteeSide.Run(Console.In),
    "compare" when args.Length == 3 => Comparison.Run(args[1], args[2]),
    _ => Usage(),
} : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: qvl-diff generate sgx|tdx OUTDIR COUNT SEED | veritee < dirs | compare QVL.txt VERITEE.txt");
    return 2;
}

internal static class Generator
{
    private static readonly DateTimeOffset At = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] PlatformStatuses =
        ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"];

    private static readonly string[] QeStatuses = ["UpToDate", "OutOfDate", "Revoked", "ConfigurationNeeded", "OutOfDateConfigurationNeeded"];
    private static readonly string[] ModuleStatuses = ["UpToDate", "OutOfDate", "Revoked"];

    public static int Run(string kind, string outDir, int count, int seed)
    {
        var tdx = kind == "tdx";
        var random = new Random(seed);
        Directory.CreateDirectory(outDir);
        for (var i = 0; i < count; i++)
        {
            var dir = Path.Combine(outDir, $"{kind}-{i:D5}");
            Scenario(random, tdx, dir);
        }

        return 0;
    }

    private static void Scenario(Random r, bool tdx, string dir)
    {
        var tags = new List<string>();
        var pck = DcapLab.Comps(Svn(r), Svn(r), Svn(r));
        var pceSvn = (ushort)r.Next(0, 13);
        var qeSvn = (ushort)r.Next(0, 11);

        // Expiry: most scenarios well inside their dates; some at exactly a deadline, a second before, or after.
        var next = At.AddDays(20);
        var tcbNext = next;
        var qeNext = next;
        var crlNext = next;
        DateTimeOffset? certNotAfter = null;
        if (r.Next(6) == 0)
        {
            tags.Add("expiry");
            var moment = r.Next(4) switch { 0 => At, 1 => At.AddSeconds(1), 2 => At.AddSeconds(-1), _ => At.AddDays(-2) };
            switch (r.Next(4))
            {
                case 0: tcbNext = moment; break;
                case 1: qeNext = moment; break;
                case 2: crlNext = moment; break;
                default: certNotAfter = moment; break;
            }
        }

        using var lab = new DcapLab(At, pck, pceSvn, certNotAfter);
        var tee = DcapLab.Comps(Svn(r), (byte)r.Next(0, 3), Svn(r));

        // A quarter of TDX scenarios aim at the TD 1.5 relaunch rule: module 1 loaded and out of date, an up-to-date
        // QE and platform level, and TEE_TCB_SVN2 naming module 0, 1 or 2 (2 may be missing: QVL's quirk).
        var relaunch = tdx && r.Next(4) == 0;
        if (relaunch)
        {
            tags.Add("relaunch");
            tee[1] = 1;
        }

        // Platform TCB levels: random thresholds and statuses, sometimes a duplicate or a status QVL does not know.
        var levels = new List<LabTcbLevel>();
        for (var n = r.Next(1, 6); n > 0; n--)
        {
            // Thresholds near the platform's own values, so that most scenarios match some level.
            levels.Add(new LabTcbLevel(DcapLab.Comps(Near(r, pck[0]), Near(r, pck[1]), Near(r, pck[2])), (ushort)Near(r, pceSvn),
                tdx ? DcapLab.Comps(Near(r, tee[0]), Near(r, tee[1]), Near(r, tee[2])) : null, Pick(r, PlatformStatuses)));
        }

        if (r.Next(12) == 0)
        {
            tags.Add("duplicate-level");
            var copy = levels[r.Next(levels.Count)];
            levels.Insert(r.Next(levels.Count + 1), copy with { Status = Pick(r, PlatformStatuses) });
        }

        if (r.Next(40) == 0)
        {
            tags.Add("unknown-status");
            levels[r.Next(levels.Count)] = levels[0] with { Status = "Obsolete" };
        }

        // QE identity levels in Intel's order (highest ISVSVN first) or shuffled, every status class QVL parses,
        // rarely SWHardeningNeeded / ConfigurationAndSWHardeningNeeded (which QVL refuses for an enclave identity).
        var qeLevels = new List<LabIsvLevel>();
        foreach (var svn in Enumerable.Range(Math.Max(0, qeSvn - 3), 5).OrderBy(_ => r.Next()).Take(r.Next(1, 4)).OrderByDescending(s => s))
        {
            var status = Pick(r, QeStatuses);
            if (r.Next(25) == 0)
            {
                status = r.Next(2) == 0 ? "SWHardeningNeeded" : "ConfigurationAndSWHardeningNeeded";
                tags.Add("qe-swhardening");
            }

            qeLevels.Add(new LabIsvLevel((ushort)svn, status));
        }

        if (relaunch)
        {
            levels.Add(new LabTcbLevel(pck, pceSvn, tee.ToArray(), r.Next(3) == 0 ? "ConfigurationNeeded" : "UpToDate"));
            qeLevels = [new LabIsvLevel((ushort)(qeSvn + 1), Pick(r, QeStatuses)), new LabIsvLevel(qeSvn, "UpToDate")];
        }

        if (qeLevels.Any(l => l.Status.Contains("Configuration", StringComparison.Ordinal) && !l.Status.Contains("SW", StringComparison.Ordinal)))
        {
            tags.Add("qe-configuration");
        }

        byte[] quote;
        IReadOnlyList<LabModuleIdentity>? identities = null;
        if (tdx)
        {
            var version = relaunch || r.Next(2) == 0 ? 5 : 4;
            tags.Add(version == 5 ? "td15" : "td10");
            var tee2 = DcapLab.Comps((byte)r.Next(0, 9), (byte)r.Next(0, 3), Svn(r));
            if (relaunch)
            {
                tee2 = DcapLab.Comps((byte)(tee[0] + r.Next(0, 4)), (byte)r.Next(0, 3), tee[2]);
            }

            quote = lab.TdxQuote(version, tee, tee2, qeSvn);
            if (r.Next(7) == 0)
            {
                tags.Add("no-module-identities");
            }
            else
            {
                var list = new List<LabModuleIdentity>();
                foreach (var id in new[] { "TDX_01", "TDX_02" }.Where(_ => r.Next(4) != 0))
                {
                    var moduleLevels = Enumerable.Range(Math.Max(0, tee[0] - 3), 5).OrderBy(_ => r.Next()).Take(r.Next(1, 4))
                        .Select(s => new LabIsvLevel((ushort)s, Pick(r, ModuleStatuses))).ToList();
                    if (r.Next(2) == 0)
                    {
                        moduleLevels = [.. moduleLevels.OrderByDescending(l => l.IsvSvn)];
                    }
                    else if (moduleLevels.Count > 1)
                    {
                        tags.Add("module-order");
                    }

                    if (r.Next(15) == 0)
                    {
                        tags.Add("module-duplicate");
                        moduleLevels.Add(moduleLevels[0] with { Status = Pick(r, ModuleStatuses) });
                    }

                    list.Add(new LabModuleIdentity(id, moduleLevels));
                }

                identities = list.Count > 0 ? list : [new LabModuleIdentity("TDX_01", [new LabIsvLevel(0, "UpToDate")])];
                if (relaunch)
                {
                    var module1 = new LabModuleIdentity("TDX_01", [new LabIsvLevel((ushort)(tee[0] + 1 + r.Next(0, 3)), "UpToDate"), new LabIsvLevel(tee[0], "OutOfDate")]);
                    identities = [module1, .. identities.Where(i => i.Id != "TDX_01")];
                }
            }
        }
        else
        {
            quote = lab.SgxQuote(qeSvn);
        }

        var revoke = r.Next(15) == 0;
        if (revoke)
        {
            tags.Add("pck-revoked");
        }

        var tcbInfo = DcapLab.TcbInfoBody(tdx, At.AddDays(-10), tcbNext, levels, identities);
        var qeIdentity = DcapLab.QeIdentityBody(tdx, At.AddDays(-10), qeNext, qeLevels);
        var collateral = lab.Collateral(tcbInfo, qeIdentity, At.AddDays(-10), crlNext, revoke);
        collateral.WriteTo(dir);
        File.WriteAllBytes(Path.Combine(dir, "quote.bin"), quote);
        File.WriteAllText(Path.Combine(dir, "trust_anchor.pem"), lab.RootPem);
        File.WriteAllText(Path.Combine(dir, "time.txt"), At.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        File.WriteAllText(Path.Combine(dir, "tags.txt"), tags.Count == 0 ? "plain" : string.Join(' ', tags.Distinct()));
    }

    private static byte Svn(Random r) => (byte)r.Next(0, 7);

    private static byte Near(Random r, int value) => (byte)Math.Clamp(value + r.Next(-3, 2), 0, 255);

    private static string Pick(Random r, string[] from) => from[r.Next(from.Length)];
}

internal static class VeriteeSide
{
    public static int Run(TextReader dirs)
    {
        var output = new StringBuilder();
        while (dirs.ReadLine() is { } dir)
        {
            if (dir.Length == 0)
            {
                continue;
            }

            var collateral = new QuoteCollateral(
                File.ReadAllBytes(Path.Combine(dir, "pck_crl_issuer_chain.pem")), File.ReadAllBytes(Path.Combine(dir, "root_ca_crl.der")),
                File.ReadAllBytes(Path.Combine(dir, "pck_crl.der")), File.ReadAllBytes(Path.Combine(dir, "tcb_info_issuer_chain.pem")),
                File.ReadAllBytes(Path.Combine(dir, "tcb_info.json")), File.ReadAllBytes(Path.Combine(dir, "qe_identity_issuer_chain.pem")),
                File.ReadAllBytes(Path.Combine(dir, "qe_identity.json")));
            var anchor = TrustAnchor.Load(File.ReadAllBytes(Path.Combine(dir, "trust_anchor.pem")), "scenario root");
            var time = DateTimeOffset.FromUnixTimeSeconds(long.Parse(File.ReadAllText(Path.Combine(dir, "time.txt")), CultureInfo.InvariantCulture));
            var result = QuoteVerifier.VerifyCold(File.ReadAllBytes(Path.Combine(dir, "quote.bin")), collateral, anchor, time);
            output.Append(CultureInfo.InvariantCulture, $"{dir} {(int)result.Status} {(result.CollateralExpired ? 1 : 0)}\n");
        }

        Console.Out.Write(output);
        return 0;
    }
}

internal static class Comparison
{
    public static int Run(string qvlFile, string veriteeFile)
    {
        var qvl = Read(qvlFile);
        var ours = Read(veriteeFile);
        var byKind = new SortedDictionary<string, (int Total, int Differ)>(StringComparer.Ordinal);
        var byTag = new SortedDictionary<string, (int Total, int Differ)>(StringComparer.Ordinal);
        var examples = new List<string>();
        foreach (var (dir, intel) in qvl)
        {
            if (!ours.TryGetValue(dir, out var veritee))
            {
                Console.Error.WriteLine($"missing Veritee verdict for {dir}");
                return 2;
            }

            var kind = Path.GetFileName(dir).Split('-')[0];
            var differ = intel != veritee;
            Count(byKind, kind, differ);
            foreach (var tag in File.ReadAllText(Path.Combine(dir, "tags.txt")).Split(' '))
            {
                Count(byTag, $"{kind}/{tag}", differ);
            }

            if (differ && examples.Count < 12)
            {
                examples.Add($"{dir} [{File.ReadAllText(Path.Combine(dir, "tags.txt"))}]: QVL {Name(intel.Status)} expired={intel.Expired}, Veritee {Name(veritee.Status)} expired={veritee.Expired}");
            }
        }

        Console.WriteLine("disagreement rate (status or collateral-expired flag):");
        foreach (var (kind, (total, d)) in byKind)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kind,-6} {d,5} / {total,5}  = {100.0 * d / total:F2} %"));
        }

        Console.WriteLine("by category:");
        foreach (var (tag, (total, d)) in byTag)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {tag,-28} {d,5} / {total,5}  = {100.0 * d / total:F2} %"));
        }

        var statuses = qvl.Values.GroupBy(v => Name(v.Status)).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}");
        Console.WriteLine("QVL verdicts: " + string.Join(", ", statuses));
        Console.WriteLine(examples.Count == 0 ? "no disagreement" : "first disagreements:");
        foreach (var e in examples)
        {
            Console.WriteLine("  " + e);
        }

        return 0;
    }

    private static string Name(int status) => Enum.IsDefined((QvlStatus)status) ? ((QvlStatus)status).ToString() : $"status {status}";

    private static void Count(SortedDictionary<string, (int Total, int Differ)> into, string key, bool differ)
    {
        var (total, d) = into.GetValueOrDefault(key);
        into[key] = (total + 1, d + (differ ? 1 : 0));
    }

    private static Dictionary<string, (int Status, int Expired)> Read(string file) =>
        File.ReadLines(file).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToDictionary(
            p => p[0], p => (int.Parse(p[1], CultureInfo.InvariantCulture), int.Parse(p[2], CultureInfo.InvariantCulture)), StringComparer.Ordinal);
}
