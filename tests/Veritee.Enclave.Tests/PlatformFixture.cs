namespace Veritee.Enclave.Tests;

/// <summary>One simulated platform per test class, in a temp folder (never ~/.veritee).</summary>
public sealed class PlatformFixture : IDisposable
{
    public PlatformFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "veritee-enclave-tests-" + Guid.NewGuid().ToString("N"));
        Folder = Path.Combine(Root, "platform");
        Now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Platform = SimulatedPlatform.Create(Folder, Now);
    }

    public string Root { get; }

    public string Folder { get; }

    public DateTimeOffset Now { get; }

    public SimulatedPlatform Platform { get; }

    public SimulatedEnclave Enclave(bool debug = true, ushort productId = 1, ushort svn = 1) => new()
    {
        MrEnclave = SimulatedEnclave.MeasureName("test-enclave"),
        MrSigner = SimulatedEnclave.MrSignerOf(Platform.EnclaveSignerKey),
        ProductId = productId,
        SecurityVersion = svn,
        Debug = debug,
    };

    /// <summary>A copy of the platform folder that a test may damage.</summary>
    public string CopyState()
    {
        var copy = Path.Combine(Root, "copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Folder))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        return copy;
    }

    public void Dispose()
    {
        Platform.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
