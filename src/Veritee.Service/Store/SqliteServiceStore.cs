using Microsoft.Data.Sqlite;

namespace Veritee.Service.Store;

/// <summary>The embedded store: one SQLite file in the data folder.</summary>
public sealed class SqliteServiceStore : IServiceStore
{
    private const int SchemaVersion = 1;
    private readonly string _connectionString;

    /// <summary>Opens (creating when absent) the database at <paramref name="path"/>.</summary>
    public SqliteServiceStore(string path)
    {
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
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", cancellationToken).ConfigureAwait(false);
        var current = await ScalarAsync(connection, transaction, "SELECT MAX(version) FROM schema_version", cancellationToken).ConfigureAwait(false);
        var version = current is long v ? (int)v : 0;
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"the store's schema version {version} is newer than this Veritee ({SchemaVersion}); upgrade Veritee");
        }

        if (version < 1)
        {
            await ExecuteAsync(connection, transaction, """
                CREATE TABLE policies (
                    attestation_type TEXT PRIMARY KEY,
                    jws TEXT NOT NULL,
                    policy_text TEXT NOT NULL,
                    signer_jwk TEXT NULL,
                    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
                CREATE TABLE instance_key (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pkcs8 BLOB NOT NULL,
                    certificate BLOB NOT NULL);
                INSERT INTO schema_version (version) VALUES (1);
                """, cancellationToken).ConfigureAwait(false);
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
