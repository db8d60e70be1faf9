namespace Veritee.Sgx;

/// <summary>The 48-byte quote header common to quote versions 3, 4 and 5.</summary>
public readonly record struct QuoteHeader(
    ushort Version,
    ushort AttestationKeyType,
    uint TeeTypeRaw,
    ushort QeSvn,
    ushort PceSvn,
    ReadOnlyMemory<byte> QeVendorId,
    ReadOnlyMemory<byte> UserData)
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 48;

    /// <summary><c>att_key_type</c> 2: ECDSA-256 with P-256, the only type Intel's verifier accepts.</summary>
    public const ushort EcdsaP256 = 2;

    /// <summary>The Intel Quoting Enclave vendor id <c>939A7233F79C4CA9940A0DB3957F0607</c>.</summary>
    public static ReadOnlySpan<byte> IntelQeVendorId => [0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07];

    /// <summary>The TEE named by the header (in v3 the field is reserved and the quote is SGX).</summary>
    public TeeType TeeType => (TeeType)TeeTypeRaw;
}
