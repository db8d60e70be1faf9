using System.Security.Cryptography;

namespace Veritee.Service.Tests;

/// <summary>
/// <c>veritee store rekey</c>: the stored instance key is re-sealed under a new key-encryption key. The signing key
/// (its kid, so /certs and every issued token) stays the same, only the new key opens the store afterwards, and a
/// wrong old key, a missing store or equal keys change nothing.
/// </summary>
public sealed class RekeyTests(PostgresFixture postgres) : StoreFolderTests, IClassFixture<PostgresFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_790_000_000);

    private ServiceOptions Sqlite(byte[]? kek) => new() { InstanceUrl = "https://attest.example", DataDirectory = Folder, KeyEncryptionKey = kek };

    [Fact]
    public async Task A_configured_key_is_replaced_and_the_signing_key_stays()
    {
        var oldKek = RandomNumberGenerator.GetBytes(32);
        var newKek = RandomNumberGenerator.GetBytes(32);
        var kid = await Kid(Sqlite(oldKek));

        var result = await VeriteeServer.RekeyAsync(Sqlite(oldKek), newKek, Now);

        Assert.Equal(kid, result.Kid);
        Assert.Null(result.RetiredKekFile);
        Assert.Equal(kid, await Kid(Sqlite(newKek)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Sqlite(oldKek)));
    }

    [Fact]
    public async Task The_generated_key_is_retired_beside_the_store_and_kept_private()
    {
        var kid = await Kid(Sqlite(null));
        var generated = Path.Combine(Folder, VeriteeServer.KeyEncryptionKeyFileName);
        var before = File.ReadAllBytes(generated);
        var newKek = RandomNumberGenerator.GetBytes(32);

        var result = await VeriteeServer.RekeyAsync(Sqlite(null), newKek, Now);

        Assert.Equal(generated + ".retired-20260921T141320Z", result.RetiredKekFile);
        Assert.False(File.Exists(generated));
        Assert.Equal(before, File.ReadAllBytes(result.RetiredKekFile!));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(result.RetiredKekFile!));
        }

        Assert.Equal(kid, await Kid(Sqlite(newKek)));
    }

    [Fact]
    public async Task A_wrong_old_key_equal_keys_or_no_store_change_nothing()
    {
        var kek = RandomNumberGenerator.GetBytes(32);
        var kid = await Kid(Sqlite(kek));

        var wrong = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RekeyAsync(Sqlite(RandomNumberGenerator.GetBytes(32)), RandomNumberGenerator.GetBytes(32), Now));
        Assert.Contains("the old key-encryption key does not open the stored instance key", wrong.Message, StringComparison.Ordinal);
        var same = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RekeyAsync(Sqlite(kek), (byte[])kek.Clone(), Now));
        Assert.Contains("equals the old one", same.Message, StringComparison.Ordinal);
        Assert.Equal(kid, await Kid(Sqlite(kek)));

        var empty = Path.Combine(Folder, "empty");
        var none = await Assert.ThrowsAsync<InvalidOperationException>(() => VeriteeServer.RekeyAsync(Sqlite(kek) with { DataDirectory = empty }, RandomNumberGenerator.GetBytes(32), Now));
        Assert.Contains("holds no Veritee store", none.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(empty));
    }

    [Fact]
    public async Task On_PostgreSQL_every_node_opens_the_shared_key_with_the_new_key_only()
    {
        var database = "rekey" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        var oldKek = RandomNumberGenerator.GetBytes(32);
        var newKek = RandomNumberGenerator.GetBytes(32);
        ServiceOptions Node(string name, byte[] kek) => Sqlite(kek) with { DataDirectory = Path.Combine(Folder, name), PostgresConnectionString = postgres.Server.ConnectionString(database) };
        var kid = await Kid(Node("a", oldKek));

        Assert.Equal(kid, (await VeriteeServer.RekeyAsync(Node("admin", oldKek), newKek, Now)).Kid);

        Assert.Equal(kid, await Kid(Node("a", newKek)));
        Assert.Equal(kid, await Kid(Node("b", newKek)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Kid(Node("c", oldKek)));
    }
}
