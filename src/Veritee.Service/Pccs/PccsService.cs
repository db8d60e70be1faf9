using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Veritee.Dcap.Pccs;
using Veritee.Dcap.X509;

namespace Veritee.Service.Pccs;

/// <summary>
/// The PCCS's cache logic (docs/pccs.md): lookups in <see cref="PccsStore"/>, fills from <see cref="PccsUpstream"/>
/// in lazy and req mode, PCK certificate selection, registration and refresh. Everything fetched or imported is verified
/// (<see cref="PccsTrust"/>) before it is stored; nothing unverified is served.
/// </summary>
internal sealed partial class PccsService(PccsStore store, ServiceOptions options, TimeProvider clock, PccsUpstream? upstream, ILogger logger)
{
    public const string KindTcb = "tcb";
    public const string KindIdentity = "identity";
    public const string KindPckCrl = "pckcrl";
    public const string KindRootCrl = "rootcacrl";
    public const string KindPckChain = "pckchain";
    public const string RootKey = "ROOT";

    public PccsStore Store => store;

    /// <summary>The root every chain must end in: Intel's SGX Root CA (tests: a simulated root).</summary>
    public Veritee.Dcap.TrustAnchor Anchor => options.PccsTrustAnchor ?? Veritee.Dcap.TrustAnchor.IntelSgxRootCa;

    public PccsFillMode Mode => options.PccsMode;

    public TimeProvider Clock => clock;

    public ServiceOptions Options => options;

    public static string TcbKey(string tee, string fmspc, int version, string update) => $"{tee}:{fmspc}:{version.ToString(CultureInfo.InvariantCulture)}:{update}";

    public static string IdentityKey(string id, int version, string update) => $"{id}:{version.ToString(CultureInfo.InvariantCulture)}:{update}";

    private string ModeName => Mode.ToString().ToLowerInvariant();

    private string NotFetched(string what) => Mode == PccsFillMode.Offline
        ? $"{what} is not cached; this server runs offline: import it with PUT /platformcollateral (veritee pccs put)."
        : $"{what} is not cached, and in {ModeName} mode a miss is not fetched: register a platform that needs it (POST /platforms) or import it (PUT /platformcollateral).";

    // ---------------------------------------------------------------- TCB Info, identities, CRLs

    /// <summary>TCB Info of (tee, fmspc, update): cached, or fetched in lazy mode; v3 misses are 410 (PCS v3 is gone).</summary>
    public async Task<PccsItem> TcbAsync(string tee, string fmspc, int version, string update, CancellationToken cancellationToken)
    {
        var key = TcbKey(tee, fmspc, version, update);
        if (await store.GetItemAsync(KindTcb, key, cancellationToken).ConfigureAwait(false) is { } hit)
        {
            return hit;
        }

        if (version == 3)
        {
            throw new PccsException(410);
        }

        var what = $"{tee} TCB Info for FMSPC {fmspc} ({update.ToLowerInvariant()})";
        if (Mode != PccsFillMode.Lazy)
        {
            throw PccsException.NotCached(NotFetched(what));
        }

        var item = await FetchTcbAsync(tee, fmspc, update, required: true, cancellationToken).ConfigureAwait(false);
        await store.ApplyAsync(One(item!), cancellationToken).ConfigureAwait(false);
        return item!;
    }

    /// <summary>Fetches and verifies one TCB Info; null when PCS has none and it is not <paramref name="required"/>.</summary>
    private async Task<PccsItem?> FetchTcbAsync(string tee, string fmspc, string update, bool required, CancellationToken cancellationToken)
    {
        var answer = await Upstream.GetAsync($"{tee.ToLowerInvariant()}/certification/v4/tcb?fmspc={fmspc}&update={update.ToLowerInvariant()}", cancellationToken).ConfigureAwait(false);
        if (!answer.Ok)
        {
            return required ? throw PccsException.NotCached(answer.Failure()) : null;
        }

        var chain = answer.Header(PccsHeaders.TcbInfoChain) ?? answer.Header(PccsHeaders.SgxTcbInfoChain)
            ?? throw PccsException.NotCached($"PCS sent the {tee} TCB Info for {fmspc} without its issuer chain header; not cached.");
        Refuse(PccsTrust.TcbInfo(Anchor, answer.Body, chain, tee == "TDX", fmspc), $"{tee} TCB Info for FMSPC {fmspc} from PCS");
        return new PccsItem(KindTcb, TcbKey(tee, fmspc, 4, update), answer.Body, chain, clock.GetUtcNow());
    }

    /// <summary>An enclave identity (QE, QVE, TD_QE): cached, or fetched in lazy mode.</summary>
    public async Task<PccsItem> IdentityAsync(string id, int version, string update, CancellationToken cancellationToken)
    {
        var key = IdentityKey(id, version, update);
        if (await store.GetItemAsync(KindIdentity, key, cancellationToken).ConfigureAwait(false) is { } hit)
        {
            return hit;
        }

        if (version == 3)
        {
            throw new PccsException(410);
        }

        if (Mode != PccsFillMode.Lazy)
        {
            throw PccsException.NotCached(NotFetched($"the {id} identity ({update.ToLowerInvariant()})"));
        }

        var item = await FetchIdentityAsync(id, update, cancellationToken).ConfigureAwait(false);
        await store.ApplyAsync(One(item), cancellationToken).ConfigureAwait(false);
        return item;
    }

    private async Task<PccsItem> FetchIdentityAsync(string id, string update, CancellationToken cancellationToken)
    {
        var path = id switch
        {
            "QE" => "sgx/certification/v4/qe/identity",
            "QVE" => "sgx/certification/v4/qve/identity",
            _ => "tdx/certification/v4/qe/identity",
        };
        var answer = await Upstream.GetAsync($"{path}?update={update.ToLowerInvariant()}", cancellationToken).ConfigureAwait(false);
        if (!answer.Ok)
        {
            throw PccsException.NotCached(answer.Failure());
        }

        var chain = answer.Header(PccsHeaders.IdentityChain) ?? throw PccsException.NotCached($"PCS sent the {id} identity without its issuer chain header; not cached.");
        Refuse(PccsTrust.Identity(Anchor, answer.Body, chain, id), $"{id} identity from PCS");
        return new PccsItem(KindIdentity, IdentityKey(id, 4, update), answer.Body, chain, clock.GetUtcNow());
    }

    /// <summary>The PCK CRL of a CA (DER).</summary>
    public async Task<PccsItem> PckCrlAsync(string ca, CancellationToken cancellationToken)
    {
        if (await store.GetItemAsync(KindPckCrl, ca, cancellationToken).ConfigureAwait(false) is { } hit)
        {
            return hit;
        }

        if (Mode != PccsFillMode.Lazy)
        {
            throw PccsException.NotCached(NotFetched($"the {ca} CA's PCK CRL"));
        }

        var item = await FetchPckCrlAsync(ca, cancellationToken).ConfigureAwait(false);
        await store.ApplyAsync(One(item), cancellationToken).ConfigureAwait(false);
        return item;
    }

    private async Task<PccsItem> FetchPckCrlAsync(string ca, CancellationToken cancellationToken)
    {
        var answer = await Upstream.GetAsync($"sgx/certification/v4/pckcrl?ca={ca.ToLowerInvariant()}&encoding=der", cancellationToken).ConfigureAwait(false);
        if (!answer.Ok)
        {
            throw PccsException.NotCached(answer.Failure());
        }

        var chain = answer.Header(PccsHeaders.PckCrlChain) ?? throw PccsException.NotCached($"PCS sent the {ca} PCK CRL without its issuer chain header; not cached.");
        var der = Der(answer.Body, $"the {ca} PCK CRL from PCS");
        Refuse(PccsTrust.PckCrl(Anchor, der, chain, ca), $"{ca} PCK CRL from PCS");
        return new PccsItem(KindPckCrl, ca, der, chain, clock.GetUtcNow());
    }

    /// <summary>The Intel SGX Root CA CRL (DER).</summary>
    public async Task<PccsItem> RootCrlAsync(CancellationToken cancellationToken)
    {
        if (await store.GetItemAsync(KindRootCrl, RootKey, cancellationToken).ConfigureAwait(false) is { } hit)
        {
            return hit;
        }

        if (Mode != PccsFillMode.Lazy)
        {
            throw PccsException.NotCached(NotFetched("the Intel SGX Root CA CRL"));
        }

        var item = await FetchRootCrlAsync(cancellationToken).ConfigureAwait(false);
        await store.ApplyAsync(One(item), cancellationToken).ConfigureAwait(false);
        return item;
    }

    private async Task<PccsItem> FetchRootCrlAsync(CancellationToken cancellationToken)
    {
        var answer = await Upstream.GetAbsoluteAsync(Upstream.RootCaCrl, cancellationToken).ConfigureAwait(false);
        if (!answer.Ok)
        {
            throw PccsException.NotCached(answer.Failure().Replace("PCS answered", "the root CA CRL distribution point answered", StringComparison.Ordinal));
        }

        var der = Der(answer.Body, "the root CA CRL");
        Refuse(PccsTrust.RootCrl(Anchor, der), "Intel SGX Root CA CRL");
        return new PccsItem(KindRootCrl, RootKey, der, null, clock.GetUtcNow());
    }

    // ---------------------------------------------------------------- PCK certificates

    /// <summary>
    /// The PCK certificate for a raw TCB (docs/pccs.md: memoised selection, selection from the cached certificates,
    /// or in lazy mode a PCS fetch for an unknown platform).
    /// </summary>
    public async Task<(PccsPckCert Certificate, PccsPlatform Platform, PccsItem Chain)> PckCertAsync(PccsRawTcb raw, string? encPpid, CancellationToken cancellationToken)
    {
        var platform = await store.GetPlatformAsync(raw.QeId, raw.PceId, cancellationToken).ConfigureAwait(false);
        if (platform is null)
        {
            if (Mode != PccsFillMode.Lazy)
            {
                throw new PccsException(461, $"No platform with qeid {raw.QeId} and pceid {raw.PceId} is cached; register it (PCKIDRetrievalTool → POST /platforms){(Mode == PccsFillMode.Offline ? " and import its collateral (PUT /platformcollateral)" : "")}.");
            }

            if (encPpid is null)
            {
                throw PccsException.BadRequest("encrypted_ppid is required for a platform that is not cached yet (768 hex digits).");
            }

            if (encPpid.All(ch => ch == '0'))
            {
                throw PccsException.NotCached("The platform is not cached and the request's encrypted_ppid is all zeros (the QE supplied none), so PCS cannot be asked; register the platform with PCKIDRetrievalTool.");
            }

            platform = await FetchPlatformAsync(raw.QeId, raw.PceId, encPpid, null, [raw], cancellationToken).ConfigureAwait(false);
        }

        var certificates = await store.GetPckCertsAsync(platform.QeId, platform.PceId, cancellationToken).ConfigureAwait(false);
        var tcbm = await store.GetPlatformTcbAsync(raw, cancellationToken).ConfigureAwait(false);
        var chosen = tcbm is null ? null : certificates.FirstOrDefault(c => c.Tcbm == tcbm);
        if (chosen is null)
        {
            var tcbInfo = await SgxTcbInfoForSelectionAsync(platform.Fmspc, cancellationToken).ConfigureAwait(false);
            chosen = Select(raw, certificates, tcbInfo.Body, out var failure)
                ?? throw PccsException.NotCached($"PCK certificate selection for cpusvn {raw.CpuSvn}, pcesvn {raw.PceSvn} failed: {failure}");
            var memo = new PccsWrite();
            memo.PlatformTcbs.Add((raw, chosen.Tcbm));
            await store.ApplyAsync(memo, cancellationToken).ConfigureAwait(false);
        }

        var chain = await store.GetItemAsync(KindPckChain, platform.Ca, cancellationToken).ConfigureAwait(false)
            ?? throw PccsException.NotCached($"the {platform.Ca} CA's PCK certificate issuer chain is not cached; re-register or re-import the platform.");
        return (chosen, platform, chain);
    }

    private async Task<PccsItem> SgxTcbInfoForSelectionAsync(string fmspc, CancellationToken cancellationToken) =>
        await store.GetItemAsync(KindTcb, TcbKey("SGX", fmspc, 4, "EARLY"), cancellationToken).ConfigureAwait(false)
        ?? await store.GetItemAsync(KindTcb, TcbKey("SGX", fmspc, 4, "STANDARD"), cancellationToken).ConfigureAwait(false)
        ?? throw PccsException.NotCached($"no SGX TCB Info for the platform's FMSPC {fmspc} is cached, so no PCK certificate can be selected.");

    /// <summary>Selection over stored certificates (docs/pccs.md; <see cref="PckCertificateSelection"/>); null with the reason on failure.</summary>
    public static PccsPckCert? Select(PccsRawTcb raw, IReadOnlyList<PccsPckCert> certificates, byte[] sgxTcbInfo, out string failure)
    {
        var entries = certificates.Select(c => new PckCertificateEntry(ParseTcb(c.Tcb), c.Tcbm, c.CertificatePem)).ToList();
        var result = PckCertificateSelection.Select(Convert.FromHexString(raw.CpuSvn), LittleEndian(raw.PceSvn), LittleEndian(raw.PceId), entries, sgxTcbInfo);
        if (!result.Succeeded)
        {
            failure = $"{result.Error}: {result.Message}";
            return null;
        }

        failure = "";
        return certificates.First(c => c.Tcbm == result.Selected!.Tcbm);
    }

    /// <summary>A 4-hex little-endian u16 (PCESVN, PCEID on the PCCS wire).</summary>
    public static ushort LittleEndian(string hex4) => BinaryPrimitives.ReadUInt16LittleEndian(Convert.FromHexString(hex4));

    /// <summary>The stored form of a certificate's TCB level: 16 component SVNs and the PCESVN, comma-separated.</summary>
    public static string FormatTcb(PcsTcb tcb)
    {
        ArgumentNullException.ThrowIfNull(tcb);
        var parts = new List<string>(17);
        foreach (var svn in tcb.ComponentSvns)
        {
            parts.Add(svn.ToString(CultureInfo.InvariantCulture));
        }

        parts.Add(tcb.PceSvn.ToString(CultureInfo.InvariantCulture));
        return string.Join(',', parts);
    }

    public static PcsTcb ParseTcb(string text)
    {
        var parts = text.Split(',');
        var components = new byte[16];
        for (var i = 0; i < 16; i++)
        {
            components[i] = byte.Parse(parts[i], CultureInfo.InvariantCulture);
        }

        return new PcsTcb(components, ushort.Parse(parts[16], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Fetches a platform's PCK certificates (encrypted PPID, or platform manifest) and its SGX (and TDX, when PCS has
    /// them) TCB Infos, verifies them, and in one transaction replaces its certificates, stores the TCB Infos and the
    /// issuer chain, and re-selects every cached raw TCB of the platform plus <paramref name="rawTcbs"/>.
    /// "Not available" levels are queued as <c>reg_na</c>.
    /// </summary>
    public async Task<PccsPlatform> FetchPlatformAsync(string qeId, string pceId, string? encPpid, string? manifest, IReadOnlyList<PccsRawTcb> rawTcbs, CancellationToken cancellationToken)
    {
        var answer = manifest is { Length: > 0 }
            ? await Upstream.PostJsonAsync("sgx/certification/v4/pckcerts", JsonSerializer.Serialize(new Dictionary<string, string> { ["platformManifest"] = manifest, ["pceid"] = pceId }), cancellationToken).ConfigureAwait(false)
            : await Upstream.GetAsync($"sgx/certification/v4/pckcerts?encrypted_ppid={encPpid}&pceid={pceId}", cancellationToken, withKey: true).ConfigureAwait(false);
        if (!answer.Ok)
        {
            throw PccsException.NotCached(answer.Failure());
        }

        IReadOnlyList<PckCertificateEntry> entries;
        try
        {
            entries = PcsPckCertificates.Parse(answer.Body);
        }
        catch (Exception e) when (e is FormatException or Veritee.Dcap.DcapFormatException or JsonException or ArgumentException)
        {
            throw PccsException.NotCached($"PCS's pckcerts answer is not a PCK certificate list: {e.Message}");
        }

        var fmspc = answer.Header(PccsHeaders.Fmspc) is { Length: 12 } f && PccsHttp.IsHex(f) ? f.ToUpperInvariant()
            : throw PccsException.NotCached("PCS's pckcerts answer has no valid SGX-FMSPC header; not cached.");
        var ca = answer.Header(PccsHeaders.CaType)?.ToUpperInvariant() is "PROCESSOR" or "PLATFORM" ? answer.Header(PccsHeaders.CaType)!.ToUpperInvariant()
            : throw PccsException.NotCached("PCS's pckcerts answer has no valid SGX-PCK-Certificate-CA-Type header; not cached.");
        var chain = answer.Header(PccsHeaders.PckCertChain) ?? throw PccsException.NotCached("PCS's pckcerts answer has no SGX-PCK-Certificate-Issuer-Chain header; not cached.");
        var available = entries.Where(e => e.CertificatePem is not null).ToList();
        if (available.Count == 0)
        {
            throw PccsException.NotCached("PCS lists no available PCK certificate for this platform (every TCB level is \"Not available\").");
        }

        Refuse(PccsTrust.PckCertificates(Anchor, available, chain), "PCK certificates from PCS");

        var write = new PccsWrite();
        var standard = await FetchTcbAsync("SGX", fmspc, "STANDARD", required: true, cancellationToken).ConfigureAwait(false);
        var early = await FetchTcbAsync("SGX", fmspc, "EARLY", required: false, cancellationToken).ConfigureAwait(false);
        write.Items.Add(standard!);
        if (early is not null)
        {
            write.Items.Add(early);
        }

        // TDX hosts' TCB Infos too, when PCS has them (an SGX-only FMSPC has none: tolerated).
        foreach (var update in new[] { "STANDARD", "EARLY" })
        {
            if (await FetchTcbAsync("TDX", fmspc, update, required: false, cancellationToken).ConfigureAwait(false) is { } tdx)
            {
                write.Items.Add(tdx);
            }
        }

        var now = clock.GetUtcNow();
        write.Items.Add(new PccsItem(KindPckChain, ca, [], chain, now));
        var platform = new PccsPlatform(qeId, pceId, manifest is { Length: > 0 } ? null : encPpid, manifest is { Length: > 0 } ? manifest : null, fmspc, ca, now);
        var stored = available.Select(e => new PccsPckCert(e.Tcbm.ToUpperInvariant(), FormatTcb(e.Tcb), NormalizePem(e.CertificatePem!))).ToList();
        write.Platforms.Add((platform, stored));
        var selectionTcbInfo = (early ?? standard)!.Body;
        var known = await store.ListRawTcbsAsync(qeId, pceId, cancellationToken).ConfigureAwait(false);
        foreach (var raw in known.Select(k => k.Raw).Concat(rawTcbs).Distinct())
        {
            if (Select(raw, stored, selectionTcbInfo, out _) is { } chosen)
            {
                write.PlatformTcbs.Add((raw, chosen.Tcbm));
            }
        }

        foreach (var missing in entries.Where(e => e.CertificatePem is null))
        {
            var tcbm = missing.Tcbm.ToUpperInvariant();
            write.Registrations.Add((new PccsRegistration(qeId, pceId, tcbm[..32], tcbm[32..], encPpid ?? "", manifest ?? ""), PccsRegistrationState.NotAvailable));
        }

        await store.ApplyAsync(write, cancellationToken).ConfigureAwait(false);
        LogPlatformFetched(logger, qeId, pceId, fmspc, stored.Count);
        return platform;
    }

    /// <summary>A PEM certificate ending in exactly one newline (QCNL appends the chain right after the body).</summary>
    public static string NormalizePem(string pem) => pem.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n', ' ') + "\n";

    // ---------------------------------------------------------------- registration

    /// <summary><c>POST /platforms</c> in the configured mode (docs/pccs.md).</summary>
    public async Task RegisterAsync(PccsRegistration registration, string update, CancellationToken cancellationToken)
    {
        var hasManifest = registration.PlatformManifest.Length > 0;
        var raw = hasManifest ? null : new PccsRawTcb(registration.QeId, registration.PceId, registration.CpuSvn, registration.PceSvn);
        var platform = await store.GetPlatformAsync(registration.QeId, registration.PceId, cancellationToken).ConfigureAwait(false);
        var cached = platform is not null && (hasManifest
            ? string.Equals(platform.PlatformManifest, registration.PlatformManifest, StringComparison.OrdinalIgnoreCase)
            : await store.GetPlatformTcbAsync(raw!, cancellationToken).ConfigureAwait(false) is not null);
        if (Mode == PccsFillMode.Offline)
        {
            if (!cached)
            {
                await QueueAsync(registration, PccsRegistrationState.New, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (Mode == PccsFillMode.Req)
        {
            await QueueAsync(registration, PccsRegistrationState.New, cancellationToken).ConfigureAwait(false);
        }

        if (!cached)
        {
            await FetchPlatformAsync(registration.QeId, registration.PceId, hasManifest ? null : registration.EncPpid, hasManifest ? registration.PlatformManifest : null, raw is null ? [] : [raw], cancellationToken).ConfigureAwait(false);
        }

        await FetchVerificationCollateralAsync(update, cancellationToken).ConfigureAwait(false);
        if (Mode == PccsFillMode.Req)
        {
            await QueueAsync(registration, PccsRegistrationState.Done, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task QueueAsync(PccsRegistration registration, int state, CancellationToken cancellationToken)
    {
        var write = new PccsWrite();
        write.Registrations.Add((registration, state));
        return store.ApplyAsync(write, cancellationToken);
    }

    /// <summary>What quote verification needs besides the platform's own items: PCK CRLs, identities, the root CA CRL (missing ones only).</summary>
    private async Task FetchVerificationCollateralAsync(string update, CancellationToken cancellationToken)
    {
        var write = new PccsWrite();
        foreach (var ca in new[] { "PROCESSOR", "PLATFORM" })
        {
            if (await store.GetItemAsync(KindPckCrl, ca, cancellationToken).ConfigureAwait(false) is null)
            {
                write.Items.Add(await FetchPckCrlAsync(ca, cancellationToken).ConfigureAwait(false));
            }
        }

        var updates = update == "ALL" ? new[] { "STANDARD", "EARLY" } : [update];
        foreach (var u in updates)
        {
            foreach (var id in new[] { "QE", "QVE", "TD_QE" })
            {
                if (await store.GetItemAsync(KindIdentity, IdentityKey(id, 4, u), cancellationToken).ConfigureAwait(false) is null)
                {
                    try
                    {
                        write.Items.Add(await FetchIdentityAsync(id, u, cancellationToken).ConfigureAwait(false));
                    }
                    catch (PccsException e) when (id != "QE")
                    {
                        // The QvE and TD_QE identities serve other verifiers; a platform registers without them.
                        LogRefreshSkipped(logger, IdentityKey(id, 4, u), e.Reason);
                    }
                }
            }
        }

        if (await store.GetItemAsync(KindRootCrl, RootKey, cancellationToken).ConfigureAwait(false) is null)
        {
            write.Items.Add(await FetchRootCrlAsync(cancellationToken).ConfigureAwait(false));
        }

        await store.ApplyAsync(write, cancellationToken).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- refresh

    /// <summary>
    /// Re-fetches every cached v4 TCB Info, PCK CRL, identity and the root CA CRL and stores them in one transaction.
    /// A TCB Info or CRL PCS no longer serves fails the refresh (503, nothing written); identities are best effort.
    /// </summary>
    public async Task<int> RefreshCollateralAsync(CancellationToken cancellationToken)
    {
        var write = new PccsWrite();
        foreach (var key in await store.ListItemKeysAsync(KindTcb, cancellationToken).ConfigureAwait(false))
        {
            var parts = key.Split(':');
            if (parts is [var tee, var fmspc, "4", var update])
            {
                write.Items.Add((await Refreshing(() => FetchTcbAsync(tee, fmspc, update, required: true, cancellationToken)).ConfigureAwait(false))!);
            }
        }

        foreach (var ca in await store.ListItemKeysAsync(KindPckCrl, cancellationToken).ConfigureAwait(false))
        {
            write.Items.Add(await Refreshing(() => FetchPckCrlAsync(ca, cancellationToken)).ConfigureAwait(false));
        }

        foreach (var key in await store.ListItemKeysAsync(KindIdentity, cancellationToken).ConfigureAwait(false))
        {
            if (key.Split(':') is [var id, "4", var update])
            {
                try
                {
                    write.Items.Add(await FetchIdentityAsync(id, update, cancellationToken).ConfigureAwait(false));
                }
                catch (PccsException e)
                {
                    LogRefreshSkipped(logger, key, e.Reason);
                }
            }
        }

        if ((await store.ListItemKeysAsync(KindRootCrl, cancellationToken).ConfigureAwait(false)).Count > 0)
        {
            write.Items.Add(await Refreshing(() => FetchRootCrlAsync(cancellationToken)).ConfigureAwait(false));
        }

        await store.ApplyAsync(write, cancellationToken).ConfigureAwait(false);
        return write.Items.Count;
    }

    /// <summary>Re-fetches the PCK certificates of every cached platform whose FMSPC is in <paramref name="fmspcs"/> (null: all).</summary>
    public async Task<int> RefreshCertificatesAsync(IReadOnlySet<string>? fmspcs, CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var platform in await store.ListPlatformsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (fmspcs is not null && !fmspcs.Contains(platform.Fmspc))
            {
                continue;
            }

            if (platform.EncPpid is null && platform.PlatformManifest is null)
            {
                // Imported without its encrypted PPID: PCS cannot be asked for it; the next import refreshes it.
                continue;
            }

            await Refreshing(() => FetchPlatformAsync(platform.QeId, platform.PceId, platform.EncPpid, platform.PlatformManifest, [], cancellationToken)).ConfigureAwait(false);
            count++;
        }

        return count;
    }

    private static async Task<T> Refreshing<T>(Func<Task<T>> fetch)
    {
        try
        {
            return await fetch().ConfigureAwait(false);
        }
        catch (PccsException e) when (e.Status == 404)
        {
            throw new PccsException(503, "Refresh failed: " + e.Reason);
        }
    }

    // ---------------------------------------------------------------- helpers

    private PccsUpstream Upstream => upstream ?? throw new PccsException(503, "This server runs offline and asks PCS for nothing.");

    private static PccsWrite One(PccsItem item)
    {
        var write = new PccsWrite();
        write.Items.Add(item);
        return write;
    }

    /// <summary>A CRL body as DER (PCS may answer DER, PEM or hex); unreadable → 404 naming it.</summary>
    private static byte[] Der(byte[] body, string what)
    {
        try
        {
            return CertificateRevocationList.Normalize(body);
        }
        catch (Exception e) when (e is FormatException or Veritee.Dcap.DcapFormatException)
        {
            throw PccsException.NotCached($"{what} is not a CRL: {e.Message}");
        }
    }

    /// <summary>Trust on ingest: a verification failure is not stored and answers 404 naming the item and the reason.</summary>
    private void Refuse(string? failure, string what)
    {
        if (failure is not null)
        {
            LogRefused(logger, what, failure);
            throw PccsException.NotCached($"Veritee refused the {what}: {failure}");
        }
    }

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "PCCS: fetched platform qe_id {QeId} pce_id {PceId} (FMSPC {Fmspc}, {Count} PCK certificates)")]
    private static partial void LogPlatformFetched(ILogger logger, string qeId, string pceId, string fmspc, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PCCS: refused {What}: {Failure}")]
    private static partial void LogRefused(ILogger logger, string what, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PCCS: refresh kept the cached {Key}: {Reason}")]
    private static partial void LogRefreshSkipped(ILogger logger, string key, string reason);
}
