package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The local disk keeps the tiers' contract, with files as its content. */
class DiskTierContractTest extends BlobTierContract {

  private DiskTier tier;

  @BeforeEach
  void open() {
    tier = DiskTier.standalone(scratch.resolve("blobs"));
  }

  @Override
  protected BlobTier tier() {
    return tier;
  }

  @Test
  void theDiskHasNoPresignedUrls() throws Exception {
    assertEquals(Optional.empty(), await(tier.presignedGet(digest, Duration.ofMinutes(5))));
  }
}
