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
    ];

    private readonly string _connectionString;
    private readonly string _path;

    /// <summary>Opens (creating when absent, mode 0600) the database at <paramref name="path"/>.</summary>
    public SqliteServiceStore(string path)
    {
        _path = path;
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
    public async Task SetPolicyAsync(StoredPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        StoredText.Require(policy.Jws, "policy token");
        StoredText.Require(policy.PolicyText, "policy text");
        StoredText.Require(policy.SignerJwk, "policy signer");
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
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

    /// <inheritdoc />
    public async Task<bool> RemovePolicyAsync(string attestationType, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM policies WHERE attestation_type = $type";
        command.Parameters.AddWithValue("$type", attestationType);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
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
            // The space the replaced bytes occupied is zeroed, not left in the file's free pages.
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
    public async Task AddSignerAsync(string thumbprint, byte[] certificate, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO policy_signers (thumbprint, certificate, added_seq)
            VALUES ($t, $c, (SELECT COALESCE(MAX(added_seq), 0) + 1 FROM policy_signers))
            ON CONFLICT (thumbprint) DO NOTHING
            """;
        command.Parameters.AddWithValue("$t", thumbprint);
        command.Parameters.AddWithValue("$c", certificate);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<bool> RemoveSignerAsync(string thumbprint, CancellationToken cancellationToken)
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

        if (present == 0)
        {
            return false;
        }

        if (total <= 1)
        {
            throw new InvalidOperationException("the last policy management certificate cannot be removed");
        }

        await using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM policy_signers WHERE thumbprint = $t";
        delete.Parameters.AddWithValue("$t", thumbprint);
        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
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
