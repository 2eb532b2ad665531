package io.cistern.cache;

import org.junit.jupiter.api.AfterEach;

/** The tier that streams from memory keeps the tiers' contract, so the contract is not the disk's alone. */
class InMemoryTierContractTest extends BlobTierContract {

  private final InMemoryTier tier = new InMemoryTier();

  @AfterEach
  void close() {
    tier.close();
  }

  @Override
  protected BlobTier tier() {
    return tier;
  }
}
