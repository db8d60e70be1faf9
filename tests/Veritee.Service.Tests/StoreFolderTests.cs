namespace Veritee.Service.Tests;

/// <summary>Tests that build nodes on SQLite stores in a temporary folder of their own, deleted after each test.</summary>
public abstract class StoreFolderTests : IDisposable
{
    /// <summary>This test's folder (not created until a node or the test creates it).</summary>
    protected string Folder { get; } = Path.Combine(Path.GetTempPath(), "veritee-store-" + Guid.NewGuid().ToString("N"));

    /// <summary>The kid a node built on <paramref name="options"/> signs with (the node is disposed again).</summary>
    protected static async Task<string> Kid(ServiceOptions options)
    {
        var app = await VeriteeServer.BuildAsync(options, "http://127.0.0.1:0");
        await using (app.ConfigureAwait(false))
        {
            return ((InstanceKeyRing)app.Services.GetService(typeof(InstanceKeyRing))!).Signing.Kid;
        }
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Pooled connections keep the database files open.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(Folder))
            {
                Directory.Delete(Folder, recursive: true);
            }
        }
    }
}
