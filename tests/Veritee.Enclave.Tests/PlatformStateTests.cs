namespace Veritee.Enclave.Tests;

public class PlatformStateTests(PlatformFixture fixture) : IClassFixture<PlatformFixture>
{
    private PlatformStateException LoadFails(string folder) => Assert.Throws<PlatformStateException>(() => SimulatedPlatform.Load(folder));

    [Fact]
    public void A_copied_state_folder_loads_with_the_same_keys()
    {
        using var copy = SimulatedPlatform.Load(fixture.CopyState());
        Assert.Equal(fixture.Platform.RootCertificate.RawData, copy.RootCertificate.RawData);
        Assert.Equal(fixture.Platform.TrustAnchor.Point, copy.TrustAnchor.Point);
        Assert.Equal(fixture.Platform.Profile.QeId, copy.Profile.QeId);
    }

    [Fact]
    public void Key_files_are_pkcs8_pem_and_private_to_the_user()
    {
        foreach (var name in SimulatedPlatform.StateFiles.Where(f => f.EndsWith("key.pem", StringComparison.Ordinal)))
        {
            var path = Path.Combine(fixture.Folder, name);
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(path), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
    }

    [Fact]
    public void A_missing_folder_says_how_to_create_one()
    {
        var e = LoadFails(Path.Combine(fixture.Root, "nowhere"));
        Assert.Contains("veritee platform init", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pck.key.pem")]
    [InlineData("platform.json")]
    [InlineData("attestation-key.pem")]
    public void A_missing_file_is_named(string file)
    {
        var folder = fixture.CopyState();
        File.Delete(Path.Combine(folder, file));
        var e = LoadFails(folder);
        Assert.EndsWith(file, e.Path, StringComparison.Ordinal);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
        Assert.False(SimulatedPlatform.IsEmpty(folder));
        Assert.Throws<PlatformStateException>(() => SimulatedPlatform.LoadOrCreate(folder, fixture.Now, out _));
    }

    [Theory]
    [InlineData("root-ca.key.pem", "garbage", "not a PKCS#8 PEM private key")]
    [InlineData("pck.key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable EC private key")]
    [InlineData("enclave-signer.key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable RSA private key")]
    [InlineData("tcb-signing.cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM certificate")]
    [InlineData("platform.json", "{\"format\":", "not valid JSON")]
    [InlineData("platform.json", "[]", "not a JSON object")]
    [InlineData("platform.json", "{\"format\":\"something-else\"}", "\"format\"")]
    public void A_corrupt_file_gives_a_specific_error(string file, string content, string expected)
    {
        var folder = fixture.CopyState();
        File.WriteAllText(Path.Combine(folder, file), content);
        var e = LoadFails(folder);
        Assert.EndsWith(file, e.Path, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_that_does_not_match_its_certificate_is_refused()
    {
        var folder = fixture.CopyState();
        File.Copy(Path.Combine(folder, "root-ca.key.pem"), Path.Combine(folder, "pck.key.pem"), overwrite: true);
        var e = LoadFails(folder);
        Assert.Contains("does not match the public key of pck.cert.pem", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_swapped_for_another_is_refused()
    {
        var folder = fixture.CopyState();
        File.Copy(Path.Combine(folder, "tcb-signing.cert.pem"), Path.Combine(folder, "pck.cert.pem"), overwrite: true);
        File.Copy(Path.Combine(folder, "tcb-signing.key.pem"), Path.Combine(folder, "pck.key.pem"), overwrite: true);
        Assert.Contains("subject CN", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Profile_and_pck_certificate_must_agree()
    {
        var folder = fixture.CopyState();
        var path = Path.Combine(folder, "platform.json");
        var text = File.ReadAllText(path).Replace("\"pceSvn\": 13", "\"pceSvn\": 12", StringComparison.Ordinal);
        Assert.Contains("\"pceSvn\": 12", text, StringComparison.Ordinal);
        File.WriteAllText(path, text);
        Assert.Contains("different FMSPC, PCE-ID or TCB", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_folder_gets_a_new_platform()
    {
        var folder = Path.Combine(fixture.Root, "empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        using (var created = SimulatedPlatform.LoadOrCreate(folder, fixture.Now, out var wasCreated))
        {
            Assert.True(wasCreated);
            Assert.NotEqual(fixture.Platform.TrustAnchor.Point, created.TrustAnchor.Point);
        }

        using var again = SimulatedPlatform.LoadOrCreate(folder, fixture.Now, out var createdAgain);
        Assert.False(createdAgain);
        Assert.All(SimulatedPlatform.StateFiles, f => Assert.True(File.Exists(Path.Combine(folder, f))));
    }

    [Fact]
    public void Default_folder_is_under_the_user_profile_or_the_override()
    {
        Assert.EndsWith(Path.Combine(".veritee", "platform"), SimulatedPlatform.DefaultFolder, StringComparison.Ordinal);
    }
}
