using System.Text;
using Veritee.Dcap.Pccs;
using static Veritee.Dcap.Tests.Pccs.PckSetFixture;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>The PCS <c>pckcerts</c> body: round trip, "Not available", and every bound and shape rule.</summary>
public sealed class PcsPckCertificatesTests(PckSetFixture fixture) : IClassFixture<PckSetFixture>
{
    private static readonly PcsTcb A = Tcb(13, 11, 11, 2, 2, 255, 1);
    private static readonly PcsTcb B = Tcb(11, 9, 9, 2, 2, 255, 1);

    private static DcapFormatException Refused(string json) =>
        Assert.Throws<DcapFormatException>(() => PcsPckCertificates.Parse(Encoding.UTF8.GetBytes(json)));

    private static string Entry(string tcb = "", string tcbm = "", string cert = "\"Not available\"")
    {
        var comps = string.Join(",", Enumerable.Range(1, 16).Select(i => $"\"sgxtcbcomp{i:D2}svn\":0"));
        return $"{{\"tcb\":{{{(tcb.Length > 0 ? tcb : comps + ",\"pcesvn\":0")}}},\"tcbm\":{(tcbm.Length > 0 ? tcbm : "\"" + new string('0', 36) + "\"")},\"cert\":{cert}}}";
    }

    [Fact]
    public void TheGeneratedBodyRoundTrips()
    {
        var set = fixture.Issue([A, B], o => o with { NotAvailable = new HashSet<int> { 1 } });
        Assert.Contains("%0A", Encoding.UTF8.GetString(set.PckCertsJson), StringComparison.Ordinal);
        var entries = PcsPckCertificates.Parse(set.PckCertsJson);
        Assert.Equal(set.Entries, entries);
        Assert.Null(entries[1].CertificatePem);
        Assert.EndsWith("-----END CERTIFICATE-----\n", entries[0].CertificatePem, StringComparison.Ordinal);
        Assert.Equal(set.PckCertsJson, PcsPckCertificates.Write(entries));
    }

    [Fact]
    public void LowerCaseTcbmIsUpperCased()
    {
        var entries = PcsPckCertificates.Parse(Encoding.UTF8.GetBytes("[" + Entry(tcbm: "\"" + new string('0', 36) + "\"") + "]"));
        Assert.Equal(new string('0', 36), entries[0].Tcbm);
        var tcbm = A.Tcbm.ToLowerInvariant();
        var comps = string.Join(",", Enumerable.Range(0, 16).Select(i => $"\"sgxtcbcomp{i + 1:D2}svn\":{A.ComponentSvns[i]}"));
        var parsed = PcsPckCertificates.Parse(Encoding.UTF8.GetBytes("[" + Entry(tcb: comps + ",\"pcesvn\":13", tcbm: "\"" + tcbm + "\"") + "]"));
        Assert.Equal(A.Tcbm, parsed[0].Tcbm);
    }

    [Fact]
    public void ShapeViolationsNameTheEntryAndField()
    {
        Assert.Contains("must be a JSON array", Refused("{}").Message, StringComparison.Ordinal);
        Assert.Contains("pckcerts[0]: must be an object", Refused("[1]").Message, StringComparison.Ordinal);
        Assert.Contains("pckcerts[0]: \"tcb\" is missing", Refused("[{\"tcbm\":\"00\",\"cert\":\"x\"}]").Message, StringComparison.Ordinal);
        Assert.Contains("pckcerts[1].tcbm: must be 36 hex", Refused("[" + Entry() + "," + Entry(tcbm: "\"00\"") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("sgxtcbcomp01svn: must be an integer 0..255", Refused("[" + Entry(tcb: "\"sgxtcbcomp01svn\":256") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("pcesvn: must be an integer", Refused("[" + Entry(tcb: string.Join(",", Enumerable.Range(1, 16).Select(i => $"\"sgxtcbcomp{i:D2}svn\":0")) + ",\"pcesvn\":-1") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("does not match its tcb", Refused("[" + Entry(tcbm: "\"" + new string('0', 34) + "01\"") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("cert: must be a string", Refused("[" + Entry(cert: "null") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("exactly one PEM certificate, found 0", Refused("[" + Entry(cert: "\"garbage\"") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", Refused("[" + Entry()).Message, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", Refused("[{\"tcb\":1,\"tcb\":2}]").Message, StringComparison.Ordinal);
        Assert.Contains("pckcerts[0].cert:", Refused("[" + Entry(cert: "\"\\uD800\"") + "]").Message, StringComparison.Ordinal);
        Assert.Contains("not valid UTF-8", Assert.Throws<DcapFormatException>(() => PcsPckCertificates.Parse([(byte)'[', 0xFF, (byte)']'])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BoundsAreEnforcedBeforeWork()
    {
        Assert.Contains("exceed the 1048576-byte limit", Assert.Throws<DcapFormatException>(() => PcsPckCertificates.Parse(new byte[PcsPckCertificates.MaxBytes + 1])).Message, StringComparison.Ordinal);
        var many = "[" + string.Join(",", Enumerable.Repeat("1", PcsPckCertificates.MaxEntries + 1)) + "]";
        Assert.Contains("entries exceed the limit of 256", Refused(many).Message, StringComparison.Ordinal);
        Assert.Contains("characters exceed the limit", Refused("[" + Entry(cert: "\"" + new string('A', PcsPckCertificates.MaxCertificateChars + 1) + "\"") + "]").Message, StringComparison.Ordinal);
        var deep = new string('[', 100) + new string(']', 100);
        Assert.Contains("malformed JSON", Refused(deep).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncationsAndBitFlipsNeverEscapeAsOtherExceptions()
    {
        var set = fixture.Issue([A, B]);
        var body = set.PckCertsJson;
        var random = new Random(15);
        for (var i = 0; i < 300; i++)
        {
            var mutated = i < 100 ? body[..random.Next(body.Length)] : Flip(body, random);
            try
            {
                var entries = PcsPckCertificates.Parse(mutated);
                Assert.All(entries, e => Assert.Equal(36, e.Tcbm.Length));
            }
            catch (DcapFormatException)
            {
            }
        }
    }

    private static byte[] Flip(byte[] bytes, Random random)
    {
        var copy = bytes.ToArray();
        var at = random.Next(copy.Length);
        copy[at] ^= (byte)(1 << random.Next(8));
        return copy;
    }
}
