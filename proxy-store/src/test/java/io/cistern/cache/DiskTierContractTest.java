package io.cistern.cache;

import org.junit.jupiter.api.BeforeEach;

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
}
