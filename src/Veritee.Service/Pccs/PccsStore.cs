using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Veritee.Service.Pccs;

/// <summary>One signed collateral item as obtained: the body byte for byte and its issuer chain as PCS sent it (percent-encoded).</summary>
internal sealed record PccsItem(string Kind, string Key, byte[] Body, string? IssuerChain, DateTimeOffset FetchedAt);

/// <summary>A cached platform: what identifies it to PCS again (encrypted PPID or manifest, upper hex), its FMSPC and CA.</summary>
internal sealed record PccsPlatform(string QeId, string PceId, string? EncPpid, string? PlatformManifest, string Fmspc, string Ca, DateTimeOffset FetchedAt);

/// <summary>One PCK certificate of a platform: its TCB level as PCS listed it (16 component SVNs and PCESVN, comma-separated) and PEM.</summary>
internal sealed record PccsPckCert(string Tcbm, string Tcb, string CertificatePem);

/// <summary>A raw TCB a platform reported (upper hex as validated).</summary>
internal sealed record PccsRawTcb(string QeId, string PceId, string CpuSvn, string PceSvn);

/// <summary>A queued registration (hex as received; empty strings where absent).</summary>
internal sealed record PccsRegistration(string QeId, string PceId, string CpuSvn, string PceSvn, string EncPpid, string PlatformManifest);

/// <summary>Registration queue states (Intel's numbers).</summary>
internal static class PccsRegistrationState
{
    public const int New = 0;
    public const int NotAvailable = 1;
    public const int Done = 9;
}

/// <summary>Everything one fetch or one import writes; <see cref="PccsStore.ApplyAsync"/> writes it in one transaction.</summary>
internal sealed class PccsWrite
{
    public List<PccsItem> Items { get; } = [];

    /// <summary>Platforms whose certificates are replaced (all old certificates and memoised selections go).</summary>
    public List<(PccsPlatform Platform, IReadOnlyList<PccsPckCert> Certificates)> Platforms { get; } = [];

    /// <summary>Memoised selections (raw TCB → tcbm), written after <see cref="Platforms"/>.</summary>
    public List<(PccsRawTcb Raw, string Tcbm)> PlatformTcbs { get; } = [];

    /// <summary>Registration rows to upsert with their state.</summary>
    public List<(PccsRegistration Registration, int State)> Registrations { get; } = [];

    public bool IsEmpty => Items.Count == 0 && Platforms.Count == 0 && PlatformTcbs.Count == 0 && Registrations.Count == 0;
}

/// <summary>
/// The PCCS tables (docs/pccs.md "Storage design") in the node's SQLite file or shared PostgreSQL database. One class
/// serves both: the SQL is common (<c>INSERT … ON CONFLICT</c>, named parameters); only table prefix and connection differ.
/// The tables are created by the store's own migrations (<see cref="SqliteMigration"/>, <see cref="PostgresMigration"/>).
/// </summary>
internal sealed class PccsStore : IAsyncDisposable
{
    private readonly Func<CancellationToken, ValueTask<DbConnection>> _open;
    private readonly IAsyncDisposable? _owned;
    private readonly string _p;

    private PccsStore(Func<CancellationToken, ValueTask<DbConnection>> open, string prefix, IAsyncDisposable? owned)
    {
        _open = open;
        _p = prefix;
        _owned = owned;
    }

    /// <summary>The SQLite schema (one migration of <c>SqliteServiceStore</c>).</summary>
    public static string SqliteMigration => Schema("", "BLOB", "INTEGER");

    /// <summary>The PostgreSQL schema (one migration of <c>PostgresServiceStore</c>).</summary>
    public static string PostgresMigration => Schema("veritee_", "BYTEA", "BIGINT");

    private static string Schema(string p, string blob, string integer) => $"""
        CREATE TABLE {p}pccs_collateral (
            kind TEXT NOT NULL,
            item_key TEXT NOT NULL,
            body {blob} NOT NULL,
            issuer_chain TEXT NULL,
            fetched_at {integer} NOT NULL,
            PRIMARY KEY (kind, item_key));
        CREATE TABLE {p}pccs_platforms (
            qe_id TEXT NOT NULL,
            pce_id TEXT NOT NULL,
            enc_ppid TEXT NULL,
            platform_manifest TEXT NULL,
            fmspc TEXT NOT NULL,
            ca TEXT NOT NULL,
            fetched_at {integer} NOT NULL,
            PRIMARY KEY (qe_id, pce_id));
        CREATE TABLE {p}pccs_pck_certs (
            qe_id TEXT NOT NULL,
            pce_id TEXT NOT NULL,
            tcbm TEXT NOT NULL,
            tcb TEXT NOT NULL,
            certificate TEXT NOT NULL,
            PRIMARY KEY (qe_id, pce_id, tcbm));
        CREATE TABLE {p}pccs_platform_tcbs (
            qe_id TEXT NOT NULL,
            pce_id TEXT NOT NULL,
            cpu_svn TEXT NOT NULL,
            pce_svn TEXT NOT NULL,
            tcbm TEXT NOT NULL,
            PRIMARY KEY (qe_id, pce_id, cpu_svn, pce_svn));
        CREATE TABLE {p}pccs_registrations (
            qe_id TEXT NOT NULL,
            pce_id TEXT NOT NULL,
            cpu_svn TEXT NOT NULL,
            pce_svn TEXT NOT NULL,
            enc_ppid TEXT NOT NULL,
            platform_manifest TEXT NOT NULL,
            state INTEGER NOT NULL,
            seq {integer} NOT NULL,
            PRIMARY KEY (qe_id, pce_id, cpu_svn, pce_svn));
        CREATE INDEX {p}pccs_registrations_state ON {p}pccs_registrations (state, seq)
        """;

    /// <summary>The PCCS tables in the SQLite file at <paramref name="path"/> (created by the service store).</summary>
    public static PccsStore ForSqlite(string path)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Cache = SqliteCacheMode.Shared,
            Pooling = true,
            DefaultTimeout = 10,
        }.ToString();
        return new PccsStore(
            async ct =>
            {
                var c = new SqliteConnection(connectionString);
                await c.OpenAsync(ct).ConfigureAwait(false);
                return c;
            },
            "",
            null);
    }

    /// <summary>The PCCS tables in PostgreSQL (created by the service store).</summary>
    public static PccsStore ForPostgres(string connectionString)
    {
        var source = NpgsqlDataSource.Create(connectionString);
        return new PccsStore(async ct => await source.OpenConnectionAsync(ct).ConfigureAwait(false), "veritee_", source);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_owned is not null)
        {
            await _owned.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task<PccsItem?> GetItemAsync(string kind, string key, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT body, issuer_chain, fetched_at FROM {_p}pccs_collateral WHERE kind = @kind AND item_key = @key", ("kind", kind), ("key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new PccsItem(kind, key, (byte[])reader[0], reader.IsDBNull(1) ? null : reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)))
            : null;
    }

    /// <summary>The keys held of one kind (refresh walks them).</summary>
    public async Task<IReadOnlyList<string>> ListItemKeysAsync(string kind, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT item_key FROM {_p}pccs_collateral WHERE kind = @kind ORDER BY item_key", ("kind", kind));
        return await StringsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PccsPlatform?> GetPlatformAsync(string qeId, string pceId, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT qe_id, pce_id, enc_ppid, platform_manifest, fmspc, ca, fetched_at FROM {_p}pccs_platforms WHERE qe_id = @qe AND pce_id = @pce", ("qe", qeId), ("pce", pceId));
        var list = await PlatformsAsync(command, cancellationToken).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<PccsPlatform>> ListPlatformsAsync(CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT qe_id, pce_id, enc_ppid, platform_manifest, fmspc, ca, fetched_at FROM {_p}pccs_platforms ORDER BY qe_id, pce_id");
        return await PlatformsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<PccsPckCert>> GetPckCertsAsync(string qeId, string pceId, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT tcbm, tcb, certificate FROM {_p}pccs_pck_certs WHERE qe_id = @qe AND pce_id = @pce ORDER BY tcbm DESC", ("qe", qeId), ("pce", pceId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<PccsPckCert>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new PccsPckCert(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return result;
    }

    /// <summary>The memoised selection for a raw TCB, or null.</summary>
    public async Task<string?> GetPlatformTcbAsync(PccsRawTcb raw, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(raw);
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"SELECT tcbm FROM {_p}pccs_platform_tcbs WHERE qe_id = @qe AND pce_id = @pce AND cpu_svn = @cpu AND pce_svn = @svn",
            ("qe", raw.QeId), ("pce", raw.PceId), ("cpu", raw.CpuSvn), ("svn", raw.PceSvn));
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <summary>Every memoised raw TCB with its platform's FMSPC (the cache listing of <c>GET /platforms</c>), optionally of one platform.</summary>
    public async Task<IReadOnlyList<(PccsRawTcb Raw, string Fmspc)>> ListRawTcbsAsync(string? qeId, string? pceId, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var command = Command(c, null, $"""
            SELECT t.qe_id, t.pce_id, t.cpu_svn, t.pce_svn, p.fmspc FROM {_p}pccs_platform_tcbs t
            JOIN {_p}pccs_platforms p ON p.qe_id = t.qe_id AND p.pce_id = t.pce_id
            WHERE (@qe IS NULL OR t.qe_id = @qe) AND (@pce IS NULL OR t.pce_id = @pce)
            ORDER BY t.qe_id, t.pce_id, t.cpu_svn, t.pce_svn
            """, ("qe", qeId), ("pce", pceId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<(PccsRawTcb, string)>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add((new PccsRawTcb(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)), reader.GetString(4)));
        }

        return result;
    }

    /// <summary>Returns the registrations in <paramref name="state"/> and marks them done, in one transaction (a queue read).</summary>
    public async Task<IReadOnlyList<PccsRegistration>> TakeRegistrationsAsync(int state, CancellationToken cancellationToken)
    {
        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<PccsRegistration>();
        var forUpdate = _p.Length > 0 ? " FOR UPDATE" : "";
        await using (var command = Command(c, tx, $"SELECT qe_id, pce_id, cpu_svn, pce_svn, enc_ppid, platform_manifest FROM {_p}pccs_registrations WHERE state = @state ORDER BY seq{forUpdate}", ("state", state)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new PccsRegistration(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5)));
            }
        }

        await using (var update = Command(c, tx, $"UPDATE {_p}pccs_registrations SET state = @done WHERE state = @state", ("done", PccsRegistrationState.Done), ("state", state)))
        {
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Writes everything in <paramref name="write"/> in one transaction.</summary>
    public async Task ApplyAsync(PccsWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (write.IsEmpty)
        {
            return;
        }

        await using var c = await _open(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var item in write.Items)
        {
            // An older copy never replaces a newer one (two nodes refreshing at once).
            await ExecAsync(c, tx, $"""
                INSERT INTO {_p}pccs_collateral (kind, item_key, body, issuer_chain, fetched_at) VALUES (@kind, @key, @body, @chain, @at)
                ON CONFLICT (kind, item_key) DO UPDATE SET body = excluded.body, issuer_chain = excluded.issuer_chain, fetched_at = excluded.fetched_at
                WHERE excluded.fetched_at >= {_p}pccs_collateral.fetched_at
                """, cancellationToken, ("kind", item.Kind), ("key", item.Key), ("body", item.Body), ("chain", item.IssuerChain), ("at", item.FetchedAt.ToUnixTimeMilliseconds())).ConfigureAwait(false);
        }

        foreach (var (platform, certificates) in write.Platforms)
        {
            await ExecAsync(c, tx, $"""
                INSERT INTO {_p}pccs_platforms (qe_id, pce_id, enc_ppid, platform_manifest, fmspc, ca, fetched_at) VALUES (@qe, @pce, @ppid, @manifest, @fmspc, @ca, @at)
                ON CONFLICT (qe_id, pce_id) DO UPDATE SET enc_ppid = excluded.enc_ppid, platform_manifest = excluded.platform_manifest,
                    fmspc = excluded.fmspc, ca = excluded.ca, fetched_at = excluded.fetched_at
                """, cancellationToken, ("qe", platform.QeId), ("pce", platform.PceId), ("ppid", platform.EncPpid), ("manifest", platform.PlatformManifest),
                ("fmspc", platform.Fmspc), ("ca", platform.Ca), ("at", platform.FetchedAt.ToUnixTimeMilliseconds())).ConfigureAwait(false);
            await ExecAsync(c, tx, $"DELETE FROM {_p}pccs_pck_certs WHERE qe_id = @qe AND pce_id = @pce", cancellationToken, ("qe", platform.QeId), ("pce", platform.PceId)).ConfigureAwait(false);
            await ExecAsync(c, tx, $"DELETE FROM {_p}pccs_platform_tcbs WHERE qe_id = @qe AND pce_id = @pce", cancellationToken, ("qe", platform.QeId), ("pce", platform.PceId)).ConfigureAwait(false);
            foreach (var cert in certificates)
            {
                await ExecAsync(c, tx, $"""
                    INSERT INTO {_p}pccs_pck_certs (qe_id, pce_id, tcbm, tcb, certificate) VALUES (@qe, @pce, @tcbm, @tcb, @cert)
                    ON CONFLICT (qe_id, pce_id, tcbm) DO UPDATE SET tcb = excluded.tcb, certificate = excluded.certificate
                    """, cancellationToken, ("qe", platform.QeId), ("pce", platform.PceId), ("tcbm", cert.Tcbm), ("tcb", cert.Tcb), ("cert", cert.CertificatePem)).ConfigureAwait(false);
            }
        }

        foreach (var (raw, tcbm) in write.PlatformTcbs)
        {
            await ExecAsync(c, tx, $"""
                INSERT INTO {_p}pccs_platform_tcbs (qe_id, pce_id, cpu_svn, pce_svn, tcbm) VALUES (@qe, @pce, @cpu, @svn, @tcbm)
                ON CONFLICT (qe_id, pce_id, cpu_svn, pce_svn) DO UPDATE SET tcbm = excluded.tcbm
                """, cancellationToken, ("qe", raw.QeId), ("pce", raw.PceId), ("cpu", raw.CpuSvn), ("svn", raw.PceSvn), ("tcbm", tcbm)).ConfigureAwait(false);
        }

        foreach (var (r, state) in write.Registrations)
        {
            await ExecAsync(c, tx, $"""
                INSERT INTO {_p}pccs_registrations (qe_id, pce_id, cpu_svn, pce_svn, enc_ppid, platform_manifest, state, seq)
                VALUES (@qe, @pce, @cpu, @svn, @ppid, @manifest, @state, (SELECT COALESCE(MAX(seq), 0) + 1 FROM {_p}pccs_registrations))
                ON CONFLICT (qe_id, pce_id, cpu_svn, pce_svn) DO UPDATE SET enc_ppid = excluded.enc_ppid,
                    platform_manifest = excluded.platform_manifest, state = excluded.state, seq = excluded.seq
                """, cancellationToken, ("qe", r.QeId), ("pce", r.PceId), ("cpu", r.CpuSvn), ("svn", r.PceSvn), ("ppid", r.EncPpid),
                ("manifest", r.PlatformManifest), ("state", state)).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<PccsPlatform>> PlatformsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<PccsPlatform>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new PccsPlatform(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
        }

        return result;
    }

    private static async Task<IReadOnlyList<string>> StringsAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    private static async Task ExecAsync(DbConnection c, DbTransaction tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(c, tx, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

#pragma warning disable CA2100 // SQL text is built from constants (table prefix); every value is a parameter.
    private static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = c.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            if (value is null)
            {
                // Untyped NULL is ambiguous to PostgreSQL in "@p IS NULL"; every nullable parameter here is text.
                parameter.DbType = System.Data.DbType.String;
            }

            command.Parameters.Add(parameter);
        }

        return command;
    }
#pragma warning restore CA2100
}
