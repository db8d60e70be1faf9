using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Veritee.Service.Store;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>The data folder is private from the first byte and the instance key is never stored in clear.</summary>
public sealed class DataFolderTests : StoreFolderTests
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private string Data => Path.Combine(Folder, "data");

    private string KekFile => Path.Combine(Data, "key-encryption-key");

    private ServiceOptions Options(byte[]? kek = null) => new() { InstanceUrl = "https://attest.example", DataDirectory = Data, KeyEncryptionKey = kek };

    private async Task<byte[]> StoredKey() => (await new SqliteServiceStore(Path.Combine(Data, "veritee.db")).GetInstanceKeyAsync(CancellationToken.None))!.Value.Pkcs8;

    [Fact]
    public async Task Without_a_key_encryption_key_the_key_is_sealed_with_a_generated_one_kept_in_a_private_file()
    {
        var kid = await Kid(Options());
        var stored = await StoredKey();
        Assert.True(InstanceKeyProtector.IsSealed(stored));
        Assert.Throws<CryptographicException>(() => RSA.Create().ImportPkcs8PrivateKey(stored, out _));
        var kek = InstanceKeyProtector.ParseKek(File.ReadAllBytes(KekFile));
        Assert.NotNull(InstanceKeyProtector.Open(stored, kek));
        Assert.Equal(kid, await Kid(Options()));
        Assert.Equal(kid, await Kid(Options(kek)));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KekFile));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Data, "veritee.db")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Data));
        }
    }

    [Fact]
    public async Task A_clear_key_stored_by_an_older_version_is_sealed_on_start_and_keeps_its_kid()
    {
        Directory.CreateDirectory(Data);
        var store = new SqliteServiceStore(Path.Combine(Data, "veritee.db"));
        await store.InitializeAsync(CancellationToken.None);
        byte[] clear;
        using (var old = InstanceSigningKey.Create("https://attest.example", DateTimeOffset.UtcNow))
        {
            clear = old.ExportPkcs8();
            await store.InsertInstanceKeyIfAbsentAsync(clear, old.Certificate.RawData, CancellationToken.None);
            var kek = RandomNumberGenerator.GetBytes(32);
            Assert.Equal(old.Kid, await Kid(Options(kek)));
            var stored = await StoredKey();
            Assert.True(InstanceKeyProtector.IsSealed(stored));
            Assert.Equal(old.Kid, await Kid(Options(kek)));
            var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options()));
            Assert.Contains("--key-encryption-key-file", missing.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(KekFile));
        }

        // The clear PKCS#8 is gone from the database file too (secure_delete), not only from the row.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var file = await File.ReadAllBytesAsync(Path.Combine(Data, "veritee.db"));
        Assert.Equal(-1, file.AsSpan().IndexOf(clear.AsSpan(clear.Length - 64)));
    }

    [Fact]
    public async Task A_generated_key_encryption_key_other_users_can_open_is_refused_naming_the_chmod()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        await Kid(Options());
        File.SetUnixFileMode(KekFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options()));
        Assert.Contains(KekFile, e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600 " + KekFile, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostgreSQL_without_a_key_encryption_key_or_instance_key_is_refused_before_connecting()
    {
        var options = Options() with { PostgresConnectionString = "Host=127.0.0.1;Port=1;Database=none;Timeout=1" };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Kid(options));
        Assert.Contains("--key-encryption-key-file", e.Message, StringComparison.Ordinal);
        Assert.Contains("--instance-key", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Data));
    }

    [Fact]
    public async Task The_simulated_platform_state_is_private_from_creation()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var platform = Path.Combine(Data, "platform");
        await Kid(Options() with { SimulationPlatformDirectory = platform });
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(platform));
        var files = Directory.GetFiles(Data, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("root-ca.cert.pem", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Assert.True((File.GetUnixFileMode(file) & GroupOrOthers) == 0, $"{file} is {File.GetUnixFileMode(file)}");
        }

        File.SetUnixFileMode(Path.Combine(platform, "pck.key.pem"), UnixFileMode.UserRead | UnixFileMode.OtherRead);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Options() with { SimulationPlatformDirectory = platform }));
        Assert.Contains("chmod 600 " + Path.Combine(platform, "pck.key.pem"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attestation_without_any_collateral_source_names_the_options_that_add_one()
    {
        var url = Loopback.HttpUrl();
        var app = await VeriteeServer.BuildAsync(Options() with { InstanceUrl = url }, url);
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync();
            using var http = new HttpClient();
            var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
            using var response = await http.PostAsync(url + "/attest/SgxEnclave?api-version=2022-08-01", new StringContent("{\"quote\":\"" + quote + "\"}"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var message = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["message"]!.GetValue<string>();
            Assert.Contains("--collateral DIR", message, StringComparison.Ordinal);
            Assert.Contains("--collateral-service", message, StringComparison.Ordinal);
            Assert.Contains("--simulation", message, StringComparison.Ordinal);
            await app.StopAsync();
        }
    }
}
