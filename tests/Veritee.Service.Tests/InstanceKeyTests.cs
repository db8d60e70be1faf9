using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.Service.Store;

namespace Veritee.Service.Tests;

public sealed class InstanceKeyTests : StoreFolderTests
{
    private ServiceOptions Options(byte[]? kek, string data = "data") =>
        new() { InstanceUrl = "https://attest.example", DataDirectory = Path.Combine(Folder, data), KeyEncryptionKey = kek };

    [Fact]
    public async Task With_a_key_encryption_key_the_stored_key_is_sealed_and_only_that_key_opens_it()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var kid = await Kid(Options(kek));
        var store = new SqliteServiceStore(Path.Combine(Folder, "data", "veritee.db"));
        var stored = (await store.GetInstanceKeyAsync(CancellationToken.None))!.Value.Pkcs8;
        Assert.True(InstanceKeyProtector.IsSealed(stored));
        Assert.Throws<CryptographicException>(() => RSA.Create().ImportPkcs8PrivateKey(stored, out _));

        Assert.Equal(kid, await Kid(Options(kek)));
        var wrong = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options(RandomNumberGenerator.GetBytes(32))));
        Assert.Contains("does not open", wrong.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options(null)));
        Assert.Contains("sealed", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_configured_key_encryption_key_is_not_silently_replaced_by_the_generated_one()
    {
        await Kid(Options(null));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options(RandomNumberGenerator.GetBytes(32))));
        Assert.Contains("does not open", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nodes_mounting_the_same_pkcs12_file_sign_with_its_key()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=mounted instance key", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var pfx = cert.Export(X509ContentType.Pfx, "pw");
        using var mountedA = X509CertificateLoader.LoadPkcs12(pfx, "pw");
        using var mountedB = X509CertificateLoader.LoadPkcs12(pfx, "pw");
        var a = await Kid(Options(null, "a") with { InstanceKeyCertificate = mountedA });
        var b = await Kid(Options(null, "b") with { InstanceKeyCertificate = mountedB });
        Assert.Equal(a, b);
        Assert.NotEqual(a, await Kid(Options(null, "c")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("too short")]
    [InlineData("0011")]
    public void Bad_key_encryption_keys_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => InstanceKeyProtector.ParseKek(System.Text.Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void Key_encryption_keys_are_read_raw_hex_or_base64()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(key, InstanceKeyProtector.ParseKek(key));
        Assert.Equal(key, InstanceKeyProtector.ParseKek(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(key) + "\n")));
        Assert.Equal(key, InstanceKeyProtector.ParseKek(System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(key))));
    }
}
