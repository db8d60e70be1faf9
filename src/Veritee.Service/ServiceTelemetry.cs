using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Veritee.Service;

/// <summary>
/// The service's OpenTelemetry instruments: the meter and activity source <c>Veritee.Service</c>. Tag values are
/// drawn from small fixed sets (attestation type, outcome, QVL status name), never from request data.
/// </summary>
public sealed class ServiceTelemetry : IDisposable
{
    /// <summary>Name of the meter and of the activity source.</summary>
    public const string Name = "Veritee.Service";

    private readonly Meter _meter;
    private readonly Counter<long> _attestations;
    private readonly Histogram<double> _attestationDuration;
    private readonly Counter<long> _verifications;
    private readonly Counter<long> _policyDenials;
    private readonly Counter<long> _collateralHits;
    private readonly Counter<long> _collateralMisses;
    private readonly Histogram<double> _collateralAge;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _collateralRejected;
    private readonly Counter<long> _auditRecords;

    /// <summary>Creates the instruments (through <paramref name="meterFactory"/> when given, as the host does).</summary>
    public ServiceTelemetry(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(Name) ?? new Meter(Name);
        _attestations = _meter.CreateCounter<long>("veritee.attestations", "{attestation}", "Attestation requests by attestation type and outcome.");
        _attestationDuration = _meter.CreateHistogram<double>("veritee.attestation.duration", "s", "Time to answer an attestation request, by type and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _verifications = _meter.CreateCounter<long>("veritee.verifications", "{verification}", "Quote verifications by Intel QVL status (qvl_status).");
        _policyDenials = _meter.CreateCounter<long>("veritee.policy.denials", "{denial}", "Attestations the policy denied, by attestation type.");
        _collateralHits = _meter.CreateCounter<long>("veritee.collateral.cache.hits", "{lookup}", "Fetched-collateral look-ups answered from the cache.");
        _collateralMisses = _meter.CreateCounter<long>("veritee.collateral.cache.misses", "{lookup}", "Fetched-collateral look-ups that went to the store or the collateral service.");
        _collateralAge = _meter.CreateHistogram<double>("veritee.collateral.age", "s", "Age of the fetched collateral used for a verification.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 7 * 24 * 3600] });
        _collateralRejected = _meter.CreateCounter<long>("veritee.collateral.rejected", "{bundle}",
            "Fetched collateral bundles refused before caching (chains or signatures do not verify, another platform's, garbled), by origin (source, store).");
        _auditRecords = _meter.CreateCounter<long>("veritee.audit.records", "{record}",
            "Management operations audited, by outcome (succeeded, refused) and stored (false: the record of a refused attempt could not be written).");
        _rejections = _meter.CreateCounter<long>("veritee.requests.rejected", "{request}", "Requests refused by a limit (reason: rate, concurrency, timeout, body_size).");
    }

    /// <summary>Spans of the attestation pipeline (verify, policy, sign) under the ASP.NET Core request span.</summary>
    public static ActivitySource Activities { get; } = new(Name);

    /// <summary>Counts an attestation and records its duration.</summary>
    public void Attestation(string attestationType, string outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "attestation_type", attestationType }, { "outcome", outcome } };
        _attestations.Add(1, tags);
        _attestationDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>Counts a verification by its QVL status name (e.g. <c>STATUS_OK</c>).</summary>
    public void Verification(string qvlStatus) => _verifications.Add(1, new KeyValuePair<string, object?>("qvl_status", qvlStatus));

    /// <summary>Counts a policy denial.</summary>
    public void PolicyDenial(string attestationType) => _policyDenials.Add(1, new KeyValuePair<string, object?>("attestation_type", attestationType));

    /// <summary>Counts a collateral cache look-up and, on a hit, the age of what it served.</summary>
    public void CollateralLookup(bool hit, TimeSpan? age)
    {
        (hit ? _collateralHits : _collateralMisses).Add(1);
        if (age is { } a)
        {
            _collateralAge.Record(Math.Max(0, a.TotalSeconds));
        }
    }

    /// <summary>Counts a collateral bundle refused before caching; <paramref name="origin"/> is <c>source</c> or <c>store</c>.</summary>
    public void CollateralRejected(string origin) => _collateralRejected.Add(1, new KeyValuePair<string, object?>("origin", origin));

    /// <summary>Counts a request refused by a limit.</summary>
    public void Rejected(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Counts an audited management operation.</summary>
    public void Audited(string outcome, bool stored) =>
        _auditRecords.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("stored", stored));

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
