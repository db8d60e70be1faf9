using System.Diagnostics;

namespace Veritee.TestSupport;

/// <summary>
/// A throwaway PostgreSQL cluster on a loopback port, made from the machine's binaries (Debian: /usr/lib/postgresql/N/bin).
/// As root it runs as the <c>postgres</c> user (the server refuses root). Trust authentication, loopback only.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _folder;
    private readonly bool _asPostgresUser;

    private PostgresServer(string bin, string folder, int port, bool asPostgresUser)
    {
        _bin = bin;
        _folder = folder;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>Connection string for database <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Timeout=10;Command Timeout=30";

    /// <summary>Creates and starts a cluster; throws with the server's output when it cannot.</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)");
        var folder = Path.Combine(Path.GetTempPath(), "veritee-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var asPostgres = Environment.UserName == "root";
        if (asPostgres)
        {
            Run("chown", $"postgres {folder}", asPostgres: false);
        }

        var port = Loopback.FreePort();
        var server = new PostgresServer(bin, folder, port, asPostgres);
        server.Pg("initdb", $"-D {folder}/data -U postgres -A trust --no-sync -E UTF8");
        server.Pg("pg_ctl", $"-D {folder}/data -l {folder}/server.log -w -t 60 -o \"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start");
        await Task.CompletedTask.ConfigureAwait(false);
        return server;
    }

    /// <summary>Creates an empty database.</summary>
    public void CreateDatabase(string name) => Pg("createdb", $"-h 127.0.0.1 -p {Port} -U postgres {name}");

    /// <summary>Stops (immediately) and restarts the server on the same port and data.</summary>
    public void Stop() => Pg("pg_ctl", $"-D {_folder}/data -m immediate -w stop");

    /// <summary>Starts the server again after <see cref="Stop"/>.</summary>
    public void Start() => Pg("pg_ctl", $"-D {_folder}/data -l {_folder}/server.log -w -t 60 -o \"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start");

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            Pg("pg_ctl", $"-D {_folder}/data -m immediate -w stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        Directory.Delete(_folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    private void Pg(string tool, string args) => Run(Path.Combine(_bin, tool), args, _asPostgresUser);

    private static void Run(string file, string args, bool asPostgres)
    {
        var psi = asPostgres ? new ProcessStartInfo("runuser", $"-u postgres -- {file} {args}") : new ProcessStartInfo(file, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {args} timed out");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} exited {process.ExitCode}: {output.Result} {error.Result}");
        }
    }

    private static string? FindBinaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
}
