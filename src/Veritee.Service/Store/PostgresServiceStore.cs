using Npgsql;

namespace Veritee.Service.Store;

/// <summary>
/// The shared store for several nodes: PostgreSQL. The schema is created and migrated by the service under an advisory
/// lock, so nodes starting together migrate once. Every write is one statement or one transaction.
/// </summary>
public sealed class PostgresServiceStore : IServiceStore, IAsyncDisposable
{

    // Arbitrary constant identifying Veritee's migration lock.
    private const long MigrationLock = 0x5645524954454531;

    /// <summary>Schema migrations in order; migration i takes the schema from version i to i + 1.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE veritee_policies (
            attestation_type TEXT PRIMARY KEY,
            jws TEXT NOT NULL,
            policy_text TEXT NOT NULL,
            signer_jwk TEXT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
        CREATE TABLE veritee_instance_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pkcs8 BYTEA NOT NULL,
            certificate BYTEA NOT NULL)
        """,
        """
        CREATE TABLE veritee_policy_signers (
            thumbprint TEXT PRIMARY KEY,
            certificate BYTEA NOT NULL,
            added_seq BIGSERIAL NOT NULL)
        """,
        """
        CREATE TABLE veritee_collateral_cache (
            cache_key TEXT PRIMARY KEY,
            parts BYTEA NOT NULL,
            fetched_at BIGINT NOT NULL)
        """,
        """
        CREATE TABLE veritee_audit_log (
            id BIGSERIAL PRIMARY KEY,
            time TIMESTAMPTZ NOT NULL,
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
        CREATE INDEX veritee_audit_log_outcome ON veritee_audit_log (outcome, id);
        CREATE INDEX veritee_audit_log_time ON veritee_audit_log (time);
        CREATE TABLE veritee_audit_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            refused_count BIGINT NOT NULL,
            refused_pruned BIGINT NOT NULL);
        INSERT INTO veritee_audit_state (id, refused_count, refused_pruned) VALUES (1, 0, 0)
        """,
        """
        CREATE TABLE veritee_policy_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version BIGINT NOT NULL);
        INSERT INTO veritee_policy_version (id, version) VALUES (1, 0);
        CREATE FUNCTION veritee_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            UPDATE veritee_policy_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END
        $body$;
        CREATE TRIGGER veritee_policies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON veritee_policies
            FOR EACH STATEMENT EXECUTE FUNCTION veritee_policy_changed()
        """,
        // The PCCS tables (docs/pccs.md).
        Veritee.Service.Pccs.PccsStore.PostgresMigration,
        """
        CREATE TABLE veritee_retired_instance_keys (
            kid TEXT PRIMARY KEY,
            certificate BYTEA NOT NULL,
            published_until BIGINT NOT NULL,
            signature BYTEA NOT NULL)
        """,
    ];

    private readonly NpgsqlDataSource _source;

    /// <summary>Connects with <paramref name="connectionString"/> (pooled).</summary>
    public PostgresServiceStore(string connectionString)
    {
        _source = NpgsqlDataSource.Create(connectionString);
    }

    /// <inheritdoc />
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT 1");
        _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS veritee_schema_version (version INTEGER NOT NULL)", cancellationToken).ConfigureAwait(false);
        await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM veritee_schema_version", connection, transaction))
        {
            var version = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            if (version > Migrations.Length)
            {
                throw new InvalidOperationException($"the store's schema version {version} is newer than this Veritee ({Migrations.Length}); upgrade Veritee");
            }

            for (var next = version; next < Migrations.Length; next++)
            {
                await ExecuteAsync(connection, transaction, Migrations[next] + $"; INSERT INTO veritee_schema_version (version) VALUES ({next + 1});", cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<StoredPolicy?> GetPolicyAsync(string attestationType, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT jws, policy_text, signer_jwk FROM veritee_policies WHERE attestation_type = $1");
        command.Parameters.AddWithValue(attestationType);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new StoredPolicy(attestationType, reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2))
            : null;
    }

    /// <summary>
    /// The counter a trigger on the policies table bumps in the writing transaction, so every writer (any node, any
    /// Veritee version since the migration, or SQL by hand) moves it; its row lock orders concurrent writers.
    /// </summary>
    public async ValueTask<long?> GetPolicyVersionAsync(CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT version FROM veritee_policy_version WHERE id = 1");
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long version ? version : null;
    }

    /// <inheritdoc />
    public async Task SetPolicyAsync(StoredPolicy policy, AuditRecord? audit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        StoredText.Require(policy.Jws, "policy token");
        StoredText.Require(policy.PolicyText, "policy text");
        StoredText.Require(policy.SignerJwk, "policy signer");
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // The row lock (FOR UPDATE) makes the recorded old hash the one this change replaced, however many nodes write.
        var previous = audit is null ? null : await LockPolicyTextAsync(connection, transaction, policy.AttestationType, cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand("""
            INSERT INTO veritee_policies (attestation_type, jws, policy_text, signer_jwk) VALUES ($1, $2, $3, $4)
            ON CONFLICT (attestation_type) DO UPDATE SET jws = excluded.jws, policy_text = excluded.policy_text,
                signer_jwk = excluded.signer_jwk, updated_at = now()
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(policy.AttestationType);
            command.Parameters.AddWithValue(policy.Jws);
            command.Parameters.AddWithValue(policy.PolicyText);
            command.Parameters.AddWithValue((object?)policy.SignerJwk ?? DBNull.Value);
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
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string? previous = null;
        int removed;
        await using (var command = new NpgsqlCommand("DELETE FROM veritee_policies WHERE attestation_type = $1 RETURNING policy_text", connection, transaction))
        {
            command.Parameters.AddWithValue(attestationType);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            removed = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                previous = reader.GetString(0);
                removed++;
            }
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
        await using var command = _source.CreateCommand("SELECT pkcs8, certificate FROM veritee_instance_key WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ((byte[])reader[0], (byte[])reader[1]) : null;
    }

    /// <inheritdoc />
    public async Task InsertInstanceKeyIfAbsentAsync(byte[] pkcs8, byte[] certificate, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("INSERT INTO veritee_instance_key (id, pkcs8, certificate) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING");
        command.Parameters.AddWithValue(pkcs8);
        command.Parameters.AddWithValue(certificate);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> ReplaceInstanceKeyAsync(byte[] expected, byte[] replacement, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("UPDATE veritee_instance_key SET pkcs8 = $1 WHERE id = 1 AND pkcs8 = $2");
        command.Parameters.AddWithValue(replacement);
        command.Parameters.AddWithValue(expected);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task<bool> RollInstanceKeyAsync(InstanceKeyRoll roll, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(roll);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var swap = new NpgsqlCommand("UPDATE veritee_instance_key SET pkcs8 = $1, certificate = $2 WHERE id = 1 AND pkcs8 = $3", connection, transaction))
        {
            swap.Parameters.AddWithValue(roll.Pkcs8);
            swap.Parameters.AddWithValue(roll.Certificate);
            swap.Parameters.AddWithValue(roll.ExpectedPkcs8);
            if (await swap.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        await using (var clear = new NpgsqlCommand("DELETE FROM veritee_retired_instance_keys", connection, transaction))
        {
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var retired in roll.Retired)
        {
            await using var keep = new NpgsqlCommand("INSERT INTO veritee_retired_instance_keys (kid, certificate, published_until, signature) VALUES ($1, $2, $3, $4)", connection, transaction);
            keep.Parameters.AddWithValue(retired.Kid);
            keep.Parameters.AddWithValue(retired.Certificate);
            keep.Parameters.AddWithValue(retired.PublishedUntil.ToUnixTimeSeconds());
            keep.Parameters.AddWithValue(retired.Signature);
            await keep.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RetiredInstanceKey>> GetRetiredInstanceKeysAsync(CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT kid, certificate, published_until, signature FROM veritee_retired_instance_keys ORDER BY published_until DESC, kid");
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
        await using var command = _source.CreateCommand("SELECT certificate FROM veritee_policy_signers ORDER BY added_seq");
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
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand("INSERT INTO veritee_policy_signers (thumbprint, certificate) VALUES ($1, $2) ON CONFLICT (thumbprint) DO NOTHING", connection, transaction))
        {
            command.Parameters.AddWithValue(thumbprint);
            command.Parameters.AddWithValue(certificate);
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
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Lock the signer rows so two concurrent removals cannot both see two signers and leave none.
        long total, present;
        await using (var count = new NpgsqlCommand("SELECT thumbprint FROM veritee_policy_signers FOR UPDATE", connection, transaction))
        await using (var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            total = 0;
            present = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                total++;
                present += reader.GetString(0) == thumbprint ? 1 : 0;
            }
        }

        if (present > 0 && total <= 1)
        {
            throw new InvalidOperationException("the last policy management certificate cannot be removed");
        }

        if (present > 0)
        {
            await using var delete = new NpgsqlCommand("DELETE FROM veritee_policy_signers WHERE thumbprint = $1", connection, transaction);
            delete.Parameters.AddWithValue(thumbprint);
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
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await InsertAuditAsync(connection, transaction, record, cancellationToken).ConfigureAwait(false);
        if (record.Outcome == AuditRecord.Refused)
        {
            // The state row's lock orders the nodes' refused writes, so each sees the others' deletions and the count
            // stays exact; the oldest refused records beyond the limit (usually one) are found by the (outcome, id) index.
            long count;
            await using (var bump = new NpgsqlCommand("UPDATE veritee_audit_state SET refused_count = refused_count + 1 WHERE id = 1 RETURNING refused_count", connection, transaction))
            {
                count = Convert.ToInt64(await bump.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            }

            var excess = count - Math.Max(0, maxRefused);
            if (excess > 0)
            {
                await using var prune = new NpgsqlCommand("""
                    WITH gone AS (DELETE FROM veritee_audit_log WHERE id IN (SELECT id FROM veritee_audit_log WHERE outcome = 'refused' ORDER BY id LIMIT $1) RETURNING 1)
                    UPDATE veritee_audit_state SET refused_count = refused_count - (SELECT COUNT(*) FROM gone),
                        refused_pruned = refused_pruned + (SELECT COUNT(*) FROM gone) WHERE id = 1
                    """, connection, transaction);
                prune.Parameters.AddWithValue(excess);
                await prune.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<AuditPage> GetAuditAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var records = new List<AuditRecord>();
        await using (var command = new NpgsqlCommand("""
            SELECT id, time, operation, attestation_type, caller, signer, trust_model, old_policy_hash, new_policy_hash, certificate_thumbprint,
                outcome, error_code, request_id, client
            FROM veritee_audit_log WHERE id > $1 AND ($2::timestamptz IS NULL OR time >= $2) ORDER BY id LIMIT $3
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(query.After);
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = query.Since is { } since ? since.UtcDateTime : DBNull.Value });
            command.Parameters.AddWithValue(query.Limit + 1);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                records.Add(new AuditRecord
                {
                    Id = reader.GetInt64(0),
                    Time = new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero),
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

        long pruned;
        await using (var state = new NpgsqlCommand("SELECT refused_pruned FROM veritee_audit_state WHERE id = 1", connection, transaction))
        {
            pruned = Convert.ToInt64(await state.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var more = records.Count > query.Limit;
        return new AuditPage(more ? records[..query.Limit] : records, more, pruned);
    }

    private static string? Text(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static async Task<string?> LockPolicyTextAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string attestationType, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT policy_text FROM veritee_policies WHERE attestation_type = $1 FOR UPDATE", connection, transaction);
        command.Parameters.AddWithValue(attestationType);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    private static async Task InsertAuditAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AuditRecord record, CancellationToken cancellationToken)
    {
        StoredText.Require(record.Caller, "audit caller");
        await using var command = new NpgsqlCommand("""
            INSERT INTO veritee_audit_log (time, operation, attestation_type, caller, signer, trust_model, old_policy_hash, new_policy_hash,
                certificate_thumbprint, outcome, error_code, request_id, client)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            """, connection, transaction);
        command.Parameters.AddWithValue(record.Time.UtcDateTime);
        command.Parameters.AddWithValue(record.Operation);
        command.Parameters.AddWithValue((object?)record.AttestationType ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.Caller ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.Signer ?? DBNull.Value);
        command.Parameters.AddWithValue(record.TrustModel);
        command.Parameters.AddWithValue((object?)record.OldPolicyHash ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.NewPolicyHash ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.CertificateThumbprint ?? DBNull.Value);
        command.Parameters.AddWithValue(record.Outcome);
        command.Parameters.AddWithValue((object?)record.ErrorCode ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.RequestId ?? DBNull.Value);
        command.Parameters.AddWithValue((object?)record.Client ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<(byte[][] Parts, DateTimeOffset FetchedAt)?> GetCollateralAsync(string key, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT parts, fetched_at FROM veritee_collateral_cache WHERE cache_key = $1");
        command.Parameters.AddWithValue(key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (CollateralParts.Unpack((byte[])reader[0]), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)))
            : null;
    }

    /// <inheritdoc />
    public async Task PutCollateralAsync(string key, byte[][] parts, DateTimeOffset fetchedAt, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("""
            INSERT INTO veritee_collateral_cache (cache_key, parts, fetched_at) VALUES ($1, $2, $3)
            ON CONFLICT (cache_key) DO UPDATE SET parts = excluded.parts, fetched_at = excluded.fetched_at
            WHERE excluded.fetched_at >= veritee_collateral_cache.fetched_at
            """);
        command.Parameters.AddWithValue(key);
        command.Parameters.AddWithValue(CollateralParts.Pack(parts));
        command.Parameters.AddWithValue(fetchedAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _source.DisposeAsync();

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
