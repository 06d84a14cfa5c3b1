package dev.iommufd.vtd.layout;

/**
 * DMA-remapping fault reasons (VT-d spec 7.1.3 and appendix A, "Non-Recoverable Fault Reason Encodings").
 * Legacy-mode walks report 0x01..0x0E; scalable-mode walks report the 0x30..0x91 codes.
 */
public final class FaultReason {
    private FaultReason() {
    }

    public static final int ROOT_NOT_PRESENT = 0x01;
    public static final int CONTEXT_NOT_PRESENT = 0x02;
    public static final int CONTEXT_INVALID = 0x03;
    public static final int ADDRESS_BEYOND_MGAW = 0x04;
    public static final int WRITE_DENIED = 0x05;
    public static final int READ_DENIED = 0x06;
    public static final int PAGING_ENTRY_INVALID = 0x07;
    public static final int ROOT_TABLE_INVALID = 0x08;
    public static final int CONTEXT_TABLE_INVALID = 0x09;
    public static final int ROOT_RESERVED = 0x0a;
    public static final int CONTEXT_RESERVED = 0x0b;
    public static final int PAGING_RESERVED = 0x0c;
    public static final int TRANSLATION_TYPE_BLOCKED = 0x0d;
    public static final int INTERRUPT_ADDRESS = 0x0e;

    public static final int SM_RTADDR_INVALID = 0x30;
    public static final int SM_LEGACY_PASID = 0x31;
    public static final int SM_ROOT_ACCESS = 0x38;
    public static final int SM_ROOT_NOT_PRESENT = 0x39;
    public static final int SM_ROOT_RESERVED = 0x3a;
    public static final int SM_CONTEXT_ACCESS = 0x40;
    public static final int SM_CONTEXT_NOT_PRESENT = 0x41;
    public static final int SM_CONTEXT_RESERVED = 0x42;
    public static final int SM_CONTEXT_INVALID = 0x43;
    public static final int SM_DTE_CLEAR = 0x44;
    public static final int SM_PASIDE_CLEAR = 0x45;
    public static final int SM_PASID_RANGE = 0x46;
    public static final int SM_PRE_CLEAR = 0x47;
    public static final int SM_PDE_ACCESS = 0x50;
    public static final int SM_PDE_NOT_PRESENT = 0x51;
    public static final int SM_PDE_RESERVED = 0x52;
    public static final int SM_PE_ACCESS = 0x58;
    public static final int SM_PE_NOT_PRESENT = 0x59;
    public static final int SM_PE_RESERVED = 0x5a;
    public static final int SM_PE_INVALID = 0x5b;
    public static final int SM_ERE_CLEAR = 0x5c;
    public static final int SM_SRE_CLEAR = 0x5d;
    public static final int SM_FS_ACCESS = 0x70;
    public static final int SM_FS_NOT_PRESENT = 0x71;
    public static final int SM_FS_RESERVED = 0x72;
    public static final int SM_FS_ROOT_ACCESS = 0x73;
    public static final int SM_NESTED_FS_TABLE_BEYOND_SS = 0x74;
    public static final int SM_SS_ACCESS = 0x78;
    public static final int SM_SS_NOT_PRESENT = 0x79;
    public static final int SM_SS_RESERVED = 0x7a;
    public static final int SM_SS_ROOT_INVALID = 0x7b;
    public static final int SM_NON_CANONICAL = 0x80;
    public static final int SM_USER_TO_SUPERVISOR = 0x81;
    public static final int SM_EXECUTE_DISABLED = 0x82;
    public static final int SM_BEYOND_FS_MAX = 0x83;
    public static final int SM_BEYOND_SS_AGAW = 0x84;
    public static final int SM_WRITE_DENIED = 0x85;
    public static final int SM_READ_DENIED = 0x86;
    public static final int SM_INTERRUPT_ADDRESS = 0x87;
    public static final int SM_FS_AD_UPDATE = 0x91;

    /**
     * Whether a fault is qualified, i.e. suppressed when the relevant FPD bit is set. Faults found before a
     * context/PASID entry with an FPD bit could be read are never suppressed.
     */
    public static boolean qualified(int reason) {
        switch (reason) {
            case ROOT_NOT_PRESENT:
            case CONTEXT_NOT_PRESENT:
            case ROOT_TABLE_INVALID:
            case CONTEXT_TABLE_INVALID:
            case ROOT_RESERVED:
            case CONTEXT_RESERVED:
            case SM_RTADDR_INVALID:
            case SM_LEGACY_PASID:
            case SM_ROOT_ACCESS:
            case SM_ROOT_NOT_PRESENT:
            case SM_ROOT_RESERVED:
            case SM_CONTEXT_ACCESS:
            case SM_CONTEXT_NOT_PRESENT:
            case SM_CONTEXT_RESERVED:
                return false;
            default:
                return true;
        }
    }
}
