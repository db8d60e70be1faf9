using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Veritee.Service.Store;

/// <summary>The embedded store: one SQLite file in the data folder.</summary>
public sealed class SqliteServiceStore : IServiceStore
{
    /// <summary>Schema migrations in order; migration i takes the schema from version i to i + 1.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE policies (
            attestation_type TEXT PRIMARY KEY,
            jws TEXT NOT NULL,
            policy_text TEXT NOT NULL,
            signer_jwk TEXT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
        CREATE TABLE instance_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pkcs8 BLOB NOT NULL,
            certificate BLOB NOT NULL)
        """,
        """
        CREATE TABLE policy_signers (
            thumbprint TEXT PRIMARY KEY,
            certificate BLOB NOT NULL,
            added_seq INTEGER NOT NULL)
        """,
        """
        CREATE TABLE collateral_cache (
            cache_key TEXT PRIMARY KEY,
            parts BLOB NOT NULL,
            fetched_at INTEGER NOT NULL)
        """,
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            operation TEXT NOT NULL,
            attestation_type TEXT NULL,
            caller TEXT NULL,
            signer TEXT NULL,
            trust_model TEXT NOT NULL,
            old_policy_hash TEXT NULL,
            new_policy_hash TEXT NULL,
            certificate_thumbprint TEXT NULL,
            outcome TEXT NOT NULL,
            error_code TEXT NULL,
            request_id TEXT NULL,
            client TEXT NULL);
        CREATE INDEX audit_log_outcome ON audit_log (outcome, id);
        CREATE INDEX audit_log_time ON audit_log (time);
        CREATE TABLE audit_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            refused_count INTEGER NOT NULL,
            refused_pruned INTEGER NOT NULL);
        INSERT INTO audit_state (id, refused_count, refused_pruned) VALUES (1, 0, 0)
        """,
        // The PCCS tables (docs/pccs.md).
        Veritee.Service.Pccs.PccsStore.SqliteMigration,
        """
        CREATE TABLE retired_instance_keys (
            kid TEXT PRIMARY KEY,
            certificate BLOB NOT NULL,
            published_until INTEGER NOT NULL,
            signature BLOB NOT NULL)
        """,
    ];

    private const string AuditColumns = "id, time, operation, attestation_type, caller, signer, trust_model, old_policy_hash, new_policy_hash, certificate_thumbprint, outcome, error_code, request_id, client";

    /// <summary>
    /// Policy versions by database file. A SQLite store belongs to one node (one process), so every policy change goes
    /// through a store of this process and is counted here, without a query; stores opened on the same file share it.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<long>> PolicyVersions = new(StringComparer.Ordinal);

    private readonly string _connectionString;
    private readonly string _path;
    private readonly StrongBox<long> _policyVersion;

    /// <summary>Opens (creating when absent, mode 0600) the database at <paramref name="path"/>.</summary>
    public SqliteServiceStore(string path)
    {
        _path = path;
        _policyVersion = PolicyVersions.GetOrAdd(Path.GetFullPath(path), _ => new StrongBox<long>());
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Shared,
            Pooling = true,
            DefaultTimeout = 10,
        }.ToString();
    }

    /// <inheritdoc />
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // SQLite would create the file 0644; created empty here it is private from the first byte, and SQLite gives its
        // journal, WAL and shared-memory files the database file's mode. Files of an older Veritee are narrowed.
        PrivateFiles.CreateEmpty(_path);
        foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" })
        {
            PrivateFiles.Restrict(_path + suffix);
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", cancellationToken).ConfigureAwait(false);
        var current = await ScalarAsync(connection, transaction, "SELECT MAX(version) FROM schema_version", cancellationToken).ConfigureAwait(false);
        var version = current is long v ? (int)v : 0;
        if (version > Migrations.Length)
        {
            throw new InvalidOperationException($"the store's schema version {version} is newer than this Veritee ({Migrations.Length}); upgrade Veritee");
        }

        for (var next = version; next < Migrations.Length; next++)
        {
            await ExecuteAsync(connection, transaction, Migrations[next] + $"; INSERT INTO schema_version (version) VALUES ({next + 1});", cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<StoredPolicy?> GetPolicyAsync(string attestationType, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT jws, policy_text, signer_jwk FROM policies WHERE attestation_type = $type";
        command.Parameters.AddWithValue("$type", attestationType);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new StoredPolicy(attestationType, reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2))
            : null;
    }

    /// <inheritdoc />
    public ValueTask<long?> GetPolicyVersionAsync(CancellationToken cancellationToken) => ValueTask.FromResult<long?>(Interlocked.Read(ref _policyVersion.Value));

    /// <inheritdoc />
    public async Task SetPolicyAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        StoredText.Require(policy.Jws, "policy token");
        StoredText.Require(policy.PolicyText, "policy text");
        StoredText.Require(policy.SignerJwk, "policy signer");
        try
        {
            await SetPolicyCoreAsync(policy, audit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Counted after the commit (or a failure, when a needless re-read is the only cost): a reader that saw the
            // old number re-reads on its next request.
            Interlocked.Increment(ref _policyVersion.Value);
        }
    }

    private async Task SetPolicyCoreAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var previous = audit is null ? null : await PolicyTextAsync(connection, transaction, policy.AttestationType, cancellationToken).ConfigureAwait(false);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO policies (attestation_type, jws, policy_text, signer_jwk) VALUES ($type, $jws, $text, $signer)
                ON CONFLICT (attestation_type) DO UPDATE SET jws = excluded.jws, policy_text = excluded.policy_text,
                    signer_jwk = excluded.signer_jwk, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                """;
            command.Parameters.AddWithValue("$type", policy.AttestationType);
            command.Parameters.AddWithValue("$jws", policy.Jws);
            command.Parameters.AddWithValue("$text", policy.PolicyText);
            command.Parameters.AddWithValue("$signer", (object?)policy.SignerJwk ?? DBNull.Value);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (audit is not null)
        {
            await InsertAuditAsync(connection, transaction, audit.WithPreviousPolicy(previous), cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RemovePolicyAsync(string attestationType, AuditRecord? audit, CancellationToken cancellationToken)
    {
        try
        {
            return await RemovePolicyCoreAsync(attestationType, audit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Increment(ref _policyVersion.Value);
        }
    }

    private async Task<bool> RemovePolicyCoreAsync(string attestationType, AuditRecord? audit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var previous = audit is null ? null : await PolicyTextAsync(connection, transaction, attestationType, cancellationToken).ConfigureAwait(false);
        int removed;
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM policies WHERE attestation_type = $type";
            command.Parameters.AddWithValue("$type", attestationType);
            removed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (audit is not null)
        {
            await InsertAuditAsync(connection, transaction, audit.WithPreviousPolicy(previous), cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    /// <inheritdoc />
    public async Task<(byte[] Pkcs8, byte[] Certificate)?> GetInstanceKeyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT pkcs8, certificate FROM instance_key WHERE id = 1";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ((byte[])reader[0], (byte[])reader[1]) : null;
    }

    /// <inheritdoc />
    public async Task InsertInstanceKeyIfAbsentAsync(byte[] pkcs8, byte[] certificate, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO instance_key (id, pkcs8, certificate) VALUES (1, $key, $cert) ON CONFLICT (id) DO NOTHING";
        command.Parameters.AddWithValue("$key", pkcs8);
        command.Parameters.AddWithValue("$cert", certificate);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> ReplaceInstanceKeyAsync(byte[] expected, byte[] replacement, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var pragma = connection.CreateCommand())
        {
            // The space the replaced bytes occupied in the database file is zeroed, not left in its free pages (a
            // journal written meanwhile may still hold them until it is overwritten).
            pragma.CommandText = "PRAGMA secure_delete = ON";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE instance_key SET pkcs8 = $new WHERE id = 1 AND pkcs8 = $old";
        command.Parameters.AddWithValue("$new", replacement);
        command.Parameters.AddWithValue("$old", expected);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> RollInstanceKeyAsync(InstanceKeyRoll roll, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(roll);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var pragma = connection.CreateCommand())
        {
            // The old sealed key's bytes are zeroed in the database file, not left in its free pages (a journal written
            // meanwhile may still hold them until it is overwritten; the rekey after a leak makes them useless).
            pragma.CommandText = "PRAGMA secure_delete = ON";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var swap = connection.CreateCommand())
        {
            swap.Transaction = transaction;
            swap.CommandText = "UPDATE instance_key SET pkcs8 = $new, certificate = $cert WHERE id = 1 AND pkcs8 = $old";
            swap.Parameters.AddWithValue("$new", roll.Pkcs8);
            swap.Parameters.AddWithValue("$cert", roll.Certificate);
            swap.Parameters.AddWithValue("$old", roll.ExpectedPkcs8);
            if (await swap.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        await using (var clear = connection.CreateCommand())
        {
            clear.Transaction = transaction;
            clear.CommandText = "DELETE FROM retired_instance_keys";
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var retired in roll.Retired)
        {
            await using var keep = connection.CreateCommand();
            keep.Transaction = transaction;
            keep.CommandText = "INSERT INTO retired_instance_keys (kid, certificate, published_until, signature) VALUES ($kid, $cert, $until, $sig)";
            keep.Parameters.AddWithValue("$kid", retired.Kid);
            keep.Parameters.AddWithValue("$cert", retired.Certificate);
            keep.Parameters.AddWithValue("$until", retired.PublishedUntil.ToUnixTimeSeconds());
            keep.Parameters.AddWithValue("$sig", retired.Signature);
            await keep.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RetiredInstanceKey>> GetRetiredInstanceKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT kid, certificate, published_until, signature FROM retired_instance_keys ORDER BY published_until DESC, kid";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<RetiredInstanceKey>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new RetiredInstanceKey(reader.GetString(0), (byte[])reader[1], DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(2)), (byte[])reader[3]));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<byte[]>> GetSignersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT certificate FROM policy_signers ORDER BY added_seq";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<byte[]>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add((byte[])reader[0]);
        }

        return result;
    }

    /// <inheritdoc />
    public async Task AddSignerAsync(string thumbprint, byte[] certificate, AuditRecord? audit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO policy_signers (thumbprint, certificate, added_seq)
                VALUES ($t, $c, (SELECT COALESCE(MAX(added_seq), 0) + 1 FROM policy_signers))
                ON CONFLICT (thumbprint) DO NOTHING
                """;
            command.Parameters.AddWithValue("$t", thumbprint);
            command.Parameters.AddWithValue("$c", certificate);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (audit is not null)
        {
            await InsertAuditAsync(connection, transaction, audit, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RemoveSignerAsync(string thumbprint, AuditRecord? audit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
        await using var count = connection.CreateCommand();
        count.Transaction = transaction;
        count.CommandText = "SELECT COUNT(*), SUM(thumbprint = $t) FROM policy_signers";
        count.Parameters.AddWithValue("$t", thumbprint);
        long total, present;
        await using (var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            total = reader.GetInt64(0);
            present = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
        }

        if (present > 0 && total <= 1)
        {
            throw new InvalidOperationException("the last policy management certificate cannot be removed");
        }

        if (present > 0)
        {
            await using var delete = connection.CreateCommand();
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM policy_signers WHERE thumbprint = $t";
            delete.Parameters.AddWithValue("$t", thumbprint);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (audit is not null)
        {
            await InsertAuditAsync(connection, transaction, audit, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return present > 0;
    }

    /// <inheritdoc />
    public async Task AppendAuditAsync(AuditRecord record, int maxRefused, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await InsertAuditAsync(connection, transaction, record, cancellationToken).ConfigureAwait(false);
        if (record.Outcome == AuditRecord.Refused)
        {
            await using var prune = connection.CreateCommand();
            prune.Transaction = transaction;

            // Counted, not scanned: the oldest refused records beyond the limit go (usually one), found by the (outcome, id) index.
            prune.CommandText = """
                UPDATE audit_state SET refused_count = refused_count + 1 WHERE id = 1;
                DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE outcome = 'refused' ORDER BY id
                    LIMIT MAX(0, (SELECT refused_count FROM audit_state WHERE id = 1) - $max));
                UPDATE audit_state SET refused_count = refused_count - changes(), refused_pruned = refused_pruned + changes() WHERE id = 1;
                """;
            prune.Parameters.AddWithValue("$max", Math.Max(0, maxRefused));
            await prune.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<AuditPage> GetAuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = connection.BeginTransaction(deferred: true);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {AuditColumns} FROM audit_log WHERE id > $after AND ($since IS NULL OR time >= $since) ORDER BY id LIMIT $limit";
        command.Parameters.AddWithValue("$after", query.After);
        command.Parameters.AddWithValue("$since", query.Since is { } since ? AuditTime(since) : DBNull.Value);
        command.Parameters.AddWithValue("$limit", query.Limit + 1);
        var records = new List<AuditRecord>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                records.Add(new AuditRecord
                {
                    Id = reader.GetInt64(0),
                    Time = DateTimeOffset.ParseExact(reader.GetString(1), TimeFormat, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal),
                    Operation = reader.GetString(2),
                    AttestationType = Text(reader, 3),
                    Caller = Text(reader, 4),
                    Signer = Text(reader, 5),
                    TrustModel = reader.GetString(6),
                    OldPolicyHash = Text(reader, 7),
                    NewPolicyHash = Text(reader, 8),
                    CertificateThumbprint = Text(reader, 9),
                    Outcome = reader.GetString(10),
                    ErrorCode = Text(reader, 11),
                    RequestId = Text(reader, 12),
                    Client = Text(reader, 13),
                });
            }
        }

        await using var state = connection.CreateCommand();
        state.Transaction = transaction;
        state.CommandText = "SELECT refused_pruned FROM audit_state WHERE id = 1";
        var pruned = (long)(await state.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0L);
        var more = records.Count > query.Limit;
        return new AuditPage(more ? records[..query.Limit] : records, more, pruned);
    }

    /// <summary>Fixed-width UTC time, so text order is time order.</summary>
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    private static string AuditTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, System.Globalization.CultureInfo.InvariantCulture);

    private static string? Text(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static async Task<string?> PolicyTextAsync(SqliteConnection connection, SqliteTransaction transaction, string attestationType, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT policy_text FROM policies WHERE attestation_type = $type";
        command.Parameters.AddWithValue("$type", attestationType);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    private static async Task InsertAuditAsync(SqliteConnection connection, SqliteTransaction transaction, AuditRecord record, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO audit_log (time, operation, attestation_type, caller, signer, trust_model, old_policy_hash, new_policy_hash,
                certificate_thumbprint, outcome, error_code, request_id, client)
            VALUES ($time, $op, $type, $caller, $signer, $trust, $old, $new, $cert, $outcome, $error, $request, $client)
            """;
        command.Parameters.AddWithValue("$time", AuditTime(record.Time));
        command.Parameters.AddWithValue("$op", record.Operation);
        command.Parameters.AddWithValue("$type", (object?)record.AttestationType ?? DBNull.Value);
        command.Parameters.AddWithValue("$caller", (object?)record.Caller ?? DBNull.Value);
        command.Parameters.AddWithValue("$signer", (object?)record.Signer ?? DBNull.Value);
        command.Parameters.AddWithValue("$trust", record.TrustModel);
        command.Parameters.AddWithValue("$old", (object?)record.OldPolicyHash ?? DBNull.Value);
        command.Parameters.AddWithValue("$new", (object?)record.NewPolicyHash ?? DBNull.Value);
        command.Parameters.AddWithValue("$cert", (object?)record.CertificateThumbprint ?? DBNull.Value);
        command.Parameters.AddWithValue("$outcome", record.Outcome);
        command.Parameters.AddWithValue("$error", (object?)record.ErrorCode ?? DBNull.Value);
        command.Parameters.AddWithValue("$request", (object?)record.RequestId ?? DBNull.Value);
        command.Parameters.AddWithValue("$client", (object?)record.Client ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<(byte[][] Parts, DateTimeOffset FetchedAt)?> GetCollateralAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT parts, fetched_at FROM collateral_cache WHERE cache_key = $k";
        command.Parameters.AddWithValue("$k", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (CollateralParts.Unpack((byte[])reader[0]), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)))
            : null;
    }

    /// <inheritdoc />
    public async Task PutCollateralAsync(string key, byte[][] parts, DateTimeOffset fetchedAt, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO collateral_cache (cache_key, parts, fetched_at) VALUES ($k, $p, $t)
            ON CONFLICT (cache_key) DO UPDATE SET parts = excluded.parts, fetched_at = excluded.fetched_at
            WHERE excluded.fetched_at >= collateral_cache.fetched_at
            """;
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$p", CollateralParts.Pack(parts));
        command.Parameters.AddWithValue("$t", fetchedAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }
}
