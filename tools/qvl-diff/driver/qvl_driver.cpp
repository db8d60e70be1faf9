// Veritee's differential driver for Intel's QuoteVerificationLibrary (QVL). Our code, not Intel's: it only calls
// QVL's public C API (SgxEcdsaAttestation/QuoteVerification.h), in the order Intel's QvE does
// (docs/verification.md §5), with the trusted root taken from each scenario folder instead of Intel's root key.
//
// Input: scenario folders on stdin, one per line. Each holds quote.bin, tcb_info.json, qe_identity.json,
// tcb_info_issuer_chain.pem, qe_identity_issuer_chain.pem, pck_crl_issuer_chain.pem, root_ca_crl.der, pck_crl.der,
// trust_anchor.pem and time.txt (unix seconds).
// Output: one line per folder: "<folder> <QVL Status number> <collateral expired 0|1>".
//
// Collateral expiry follows QvE: expired = (earliest expiration date <= check date), the earliest over every
// certificate of the four chains, both CRLs' nextUpdate and the two JSON nextUpdate dates.
#include <SgxEcdsaAttestation/QuoteVerification.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string toHex(const std::string &bytes)
{
    static const char *digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes)
    {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

time_t asn1ToTime(const ASN1_TIME *t)
{
    struct tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    {
        return 0;
    }
    return timegm(&tm);
}

// notAfter of every certificate in a PEM bundle.
void certificateDates(const std::string &pem, std::vector<time_t> &dates)
{
    BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    while (X509 *cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr))
    {
        dates.push_back(asn1ToTime(X509_get0_notAfter(cert)));
        X509_free(cert);
    }
    BIO_free(bio);
}

void crlDate(const std::string &der, std::vector<time_t> &dates)
{
    const auto *p = reinterpret_cast<const unsigned char *>(der.data());
    if (X509_CRL *crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())))
    {
        dates.push_back(asn1ToTime(X509_CRL_get0_nextUpdate(crl)));
        X509_CRL_free(crl);
    }
}

void jsonNextUpdate(const std::string &json, std::vector<time_t> &dates)
{
    const std::string key = "\"nextUpdate\":\"";
    const auto at = json.find(key);
    if (at == std::string::npos)
    {
        return;
    }
    struct tm tm{};
    if (strptime(json.c_str() + at + key.size(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr)
    {
        dates.push_back(timegm(&tm));
    }
}

bool isExpiry(Status s)
{
    return s == STATUS_SGX_PCK_CERT_CHAIN_EXPIRED || s == STATUS_SGX_CRL_EXPIRED || s == STATUS_SGX_TCB_INFO_EXPIRED ||
           s == STATUS_SGX_SIGNING_CERT_CHAIN_EXPIRED || s == STATUS_SGX_ENCLAVE_IDENTITY_EXPIRED;
}

// First PEM certificate of a bundle (the PCK certificate leads the quote's chain).
std::string firstCertificate(const std::string &pem)
{
    const std::string end = "-----END CERTIFICATE-----";
    const auto at = pem.find(end);
    return at == std::string::npos ? pem : pem.substr(0, at + end.size()) + "\n";
}

std::pair<int, int> verify(const std::string &dir)
{
    const auto quote = readFile(dir + "/quote.bin");
    const auto tcbInfo = readFile(dir + "/tcb_info.json");
    const auto qeIdentity = readFile(dir + "/qe_identity.json");
    const auto tcbChain = readFile(dir + "/tcb_info_issuer_chain.pem");
    const auto qeChain = readFile(dir + "/qe_identity_issuer_chain.pem");
    const auto crlChain = readFile(dir + "/pck_crl_issuer_chain.pem");
    const auto rootCrlDer = readFile(dir + "/root_ca_crl.der");
    const auto pckCrlDer = readFile(dir + "/pck_crl.der");
    const auto root = readFile(dir + "/trust_anchor.pem");
    const time_t when = static_cast<time_t>(std::stoll(readFile(dir + "/time.txt")));
    const auto rootCrl = toHex(rootCrlDer);
    const auto pckCrl = toHex(pckCrlDer);
    const auto *q = reinterpret_cast<const uint8_t *>(quote.data());
    const auto qSize = static_cast<uint32_t>(quote.size());

    // QvE step 1: the PCK chain from the quote's certification data.
    uint32_t certSize = 0;
    Status s = sgxAttestationGetQECertificationDataSize(q, qSize, &certSize);
    if (s != STATUS_OK)
    {
        return {s, 0};
    }
    std::vector<uint8_t> cert(certSize + 1, 0);
    uint16_t certType = 0;
    s = sgxAttestationGetQECertificationData(q, qSize, certSize, cert.data(), &certType);
    if (s != STATUS_OK)
    {
        return {s, 0};
    }
    const std::string pckChain(reinterpret_cast<const char *>(cert.data()), certSize);

    // QvE step 2 parses the TCB Info before anything else; a TCB Info QVL cannot parse ends here, unflagged.
    Status tcb = sgxAttestationVerifyTCBInfo(tcbInfo.c_str(), tcbChain.c_str(), rootCrl.c_str(), root.c_str(), &when);
    if (tcb == STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT || tcb == STATUS_SGX_TCB_INFO_INVALID)
    {
        return {tcb, 0};
    }

    // QvE step 5 (qve_get_collateral_dates) parses the QE Identity too, before any chain is verified.
    Status qe = sgxAttestationVerifyEnclaveIdentity(qeIdentity.c_str(), qeChain.c_str(), rootCrl.c_str(), root.c_str(), &when);
    if (qe == STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT || qe == STATUS_SGX_ENCLAVE_IDENTITY_INVALID ||
        qe == STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION)
    {
        return {qe, 0};
    }

    std::vector<time_t> dates;
    certificateDates(pckChain, dates);
    certificateDates(tcbChain, dates);
    certificateDates(qeChain, dates);
    certificateDates(crlChain, dates);
    crlDate(rootCrlDer, dates);
    crlDate(pckCrlDer, dates);
    jsonNextUpdate(tcbInfo, dates);
    jsonNextUpdate(qeIdentity, dates);
    time_t earliest = std::numeric_limits<time_t>::max();
    for (auto d : dates)
    {
        earliest = d < earliest ? d : earliest;
    }
    int expired = earliest <= when ? 1 : 0;

    const char *crls[] = {rootCrl.c_str(), pckCrl.c_str()};
    Status steps[] = {
        sgxAttestationVerifyPCKCertificate(pckChain.c_str(), crls, root.c_str(), &when),
        tcb,
        qe,
    };
    for (Status step : steps)
    {
        if (isExpiry(step))
        {
            expired = 1;
        }
        else if (step != STATUS_OK)
        {
            return {step, expired};
        }
    }

    s = sgxAttestationVerifyQuote(q, qSize, firstCertificate(pckChain).c_str(), pckCrl.c_str(), tcbInfo.c_str(), qeIdentity.c_str());
    return {s, expired};
}

} // namespace

int main()
{
    std::string dir;
    while (std::getline(std::cin, dir))
    {
        if (dir.empty())
        {
            continue;
        }
        const auto result = verify(dir);
        std::cout << dir << ' ' << result.first << ' ' << result.second << '\n';
    }
    return 0;
}
