using System.Security.Cryptography;
using Veritee.Service;

namespace Veritee.Cli.Tests;

/// <summary><c>veritee store rekey</c> and <c>roll-key</c> as an operator runs them: key files in, lines out, exit codes.</summary>
public sealed class StoreRekeyCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-cli-rekey-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private string KeyFile(string name, byte[] key)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, Convert.ToHexStringLower(key) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    private async Task<string> StartOnce(string data, byte[] kek)
    {
        var app = await VeriteeServer.BuildAsync(new ServiceOptions { InstanceUrl = "https://attest.example", DataDirectory = data, KeyEncryptionKey = kek }, "http://127.0.0.1:0");
        await using (app.ConfigureAwait(false))
        {
            return ((InstanceKeyRing)app.Services.GetService(typeof(InstanceKeyRing))!).Signing.Kid;
        }
    }

    [Fact]
    public async Task Rekey_reseals_under_the_new_key_and_says_to_restart_the_nodes()
    {
        var data = Path.Combine(_dir, "data");
        var oldKek = RandomNumberGenerator.GetBytes(32);
        var newKek = RandomNumberGenerator.GetBytes(32);
        var kid = await StartOnce(data, oldKek);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var r = CliProcessTests.Veritee("store", "rekey", "--data", data, "--key-encryption-key-file", KeyFile("old.key", oldKek), "--new-key-encryption-key-file", KeyFile("new.key", newKek));

        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Contains($"(kid {kid}) is sealed under the new key-encryption key; restart every node with it", r.Out, StringComparison.Ordinal);
        Assert.Equal(kid, await StartOnce(data, newKek));
    }

    [Fact]
    public async Task A_wrong_old_key_is_one_line_and_exit_2()
    {
        var data = Path.Combine(_dir, "data");
        await StartOnce(data, RandomNumberGenerator.GetBytes(32));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var r = CliProcessTests.Veritee("store", "rekey", "--data", data, "--key-encryption-key-file", KeyFile("wrong.key", RandomNumberGenerator.GetBytes(32)), "--new-key-encryption-key-file", KeyFile("new.key", RandomNumberGenerator.GetBytes(32)));

        Assert.Equal(2, r.Exit);
        var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("veritee: the old key-encryption key does not open the stored instance key", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Roll_key_puts_a_new_key_in_force_and_says_until_when_the_old_one_is_published()
    {
        var data = Path.Combine(_dir, "data");
        var kek = RandomNumberGenerator.GetBytes(32);
        var kid = await StartOnce(data, kek);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var kekFile = KeyFile("kek.key", kek);

        var r = CliProcessTests.Veritee("store", "roll-key", "--data", data, "--key-encryption-key-file", kekFile);

        Assert.True(r.Exit == 0, r.Out + r.Err);
        var rolled = await StartOnce(data, kek);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.NotEqual(kid, rolled);
        Assert.Contains($"new tokens are signed with kid {rolled}", r.Out, StringComparison.Ordinal);
        Assert.Matches($@"the old key \(kid {System.Text.RegularExpressions.Regex.Escape(kid)}\) stays in /certs until \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.", r.Out);

        var leak = CliProcessTests.Veritee("store", "roll-key", "--data", data, "--key-encryption-key-file", kekFile, "--publish-old-hours", "0");
        Assert.True(leak.Exit == 0, leak.Out + leak.Err);
        Assert.Contains($"the old key (kid {rolled}) is out of /certs now", leak.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1", "--publish-old-hours: -1 is not between 0 and 8784")]
    [InlineData("NaN", "--publish-old-hours: NaN is not between 0 and 8784")]
    public async Task Roll_key_refuses_a_bad_publication_time_in_one_line_and_changes_nothing(string hours, string message)
    {
        var data = Path.Combine(_dir, "data");
        var kek = RandomNumberGenerator.GetBytes(32);
        var kid = await StartOnce(data, kek);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var r = CliProcessTests.Veritee("store", "roll-key", "--data", data, "--key-encryption-key-file", KeyFile("kek.key", kek), "--publish-old-hours", hours);

        Assert.Equal(2, r.Exit);
        Assert.Equal("veritee: " + message, Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(kid, await StartOnce(data, kek));
    }

    [Fact]
    public void Roll_key_on_a_folder_without_a_store_is_one_line_and_exit_2()
    {
        var r = CliProcessTests.Veritee("store", "roll-key", "--data", Path.Combine(_dir, "nothing"), "--key-encryption-key-file", KeyFile("kek.key", RandomNumberGenerator.GetBytes(32)));

        Assert.Equal(2, r.Exit);
        Assert.Contains("holds no Veritee store", Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "nothing")));
    }
}
