namespace Veritee.Cli.Tests;

/// <summary><c>veritee serve</c>'s PCCS options (docs/pccs.md): a bad value is one line on stderr, exit 2, nothing written.</summary>
public sealed class ServePccsCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-serve-pccs-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.RunRefusedServe(args);

    [Theory]
    [InlineData("--pccs sometimes", "--pccs must be off, lazy, req or offline, not 'sometimes'")]
    [InlineData("--pccs lazy --pccs-user-token-hash abc", "--pccs-user-token-hash must be the 128 hex digits of a SHA-512 hash (printf %s \"$TOKEN\" | sha512sum), not 3 characters")]
    [InlineData("--pccs lazy --pccs-admin-token-hash 0123", "--pccs-admin-token-hash must be the 128 hex digits of a SHA-512 hash (printf %s \"$TOKEN\" | sha512sum), not 4 characters")]
    [InlineData("--pccs lazy --pccs-refresh-interval -1", "--pccs-refresh-interval must be in 0..8784 hours, not -1")]
    [InlineData("--pccs lazy --pccs-max-body-kib 0", "--pccs-max-body-kib must be in 1..1048576, not 0")]
    public void A_bad_PCCS_setting_is_one_line_and_writes_nothing(string options, string message)
    {
        var data = Path.Combine(_dir, "data");
        var (exit, _, err) = Run(["serve", "--data", data, .. options.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Equal("veritee: " + message, err.Trim());
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public void Help_names_the_PCCS_options()
    {
        var (exit, output, _) = Run("serve", "--help");
        Assert.Equal(0, exit);
        foreach (var option in new[] { "--pccs ", "--pccs-user-token-hash", "--pccs-admin-token-hash", "--pccs-refresh-interval", "--pccs-max-body-kib" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }
    }
}
