package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The seqcount of the lockless pin walk (seqcount_t semantics: odd while a writer is active, wrapping). */
class UnmapSequenceTest {

    @Test
    void aWriterIsSeenAndMovesTheSequence() {
        UnmapSequence s = new UnmapSequence();
        int start = s.readBegin();
        s.writeBegin();
        assertEquals(UnmapSequence.WRITER_ACTIVE, s.readBegin(), "a reader must give up while munmap lets pages go");
        assertFalse(s.unchanged(start));
        s.writeEnd();
        assertFalse(s.unchanged(start), "a munmap that ran in between must fail the re-check");
        assertTrue(s.unchanged(s.readBegin()));
    }

    /** The count wraps after 2^31 munmaps: a negative even value is a quiet sequence, not a writer. */
    @Test
    void aWrappedSequenceStillAllowsLocklessPins() {
        UnmapSequence s = new UnmapSequence(Integer.MAX_VALUE - 1);
        s.writeBegin();
        s.writeEnd();
        int wrapped = s.readBegin();
        assertEquals(Integer.MIN_VALUE, wrapped);
        assertNotEquals(UnmapSequence.WRITER_ACTIVE, wrapped);
        assertTrue(s.unchanged(wrapped));
    }
}
