package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.api.Test;

class RegistryRouteTest {

  @Test
  void recognisesThePullEndpoints() {
    assertInstanceOf(RegistryRoute.Base.class, RegistryRoute.parse("/v2/"));
    assertInstanceOf(RegistryRoute.Base.class, RegistryRoute.parse("/v2"));
    assertEquals(new RegistryRoute.Manifest("library/alpine", "3.20"), RegistryRoute.parse("/v2/library/alpine/manifests/3.20"));
    assertEquals(new RegistryRoute.Blob("a/b", "sha256:x"), RegistryRoute.parse("/v2/a/b/blobs/sha256:x"));
    assertEquals(new RegistryRoute.TagList("a/b"), RegistryRoute.parse("/v2/a/b/tags/list"));
    assertEquals(new RegistryRoute.Referrers("a", "sha256:x"), RegistryRoute.parse("/v2/a/referrers/sha256:x"));
    assertInstanceOf(RegistryRoute.Catalog.class, RegistryRoute.parse("/v2/_catalog"));
  }

  @Test
  void readsFromTheEndSoNamesMayContainEndpointWords() {
    assertEquals(new RegistryRoute.Manifest("a/manifests/b", "latest"), RegistryRoute.parse("/v2/a/manifests/b/manifests/latest"));
    assertEquals(new RegistryRoute.Blob("blobs/tags", "d"), RegistryRoute.parse("/v2/blobs/tags/blobs/d"));
    assertEquals(new RegistryRoute.Manifest("ghcr.io/org/app", "1.0"), RegistryRoute.parse("/v2/ghcr.io/org/app/manifests/1.0"));
  }

  @Test
  void recognisesUploadsSoTheyCanBeRefused() {
    assertEquals(new RegistryRoute.Upload("a/b"), RegistryRoute.parse("/v2/a/b/blobs/uploads/"));
    assertEquals(new RegistryRoute.Upload("a"), RegistryRoute.parse("/v2/a/blobs/uploads/1234-uuid"));
    assertEquals(new RegistryRoute.Upload("a"), RegistryRoute.parse("/v2/a/blobs/uploads"));
  }

  @Test
  void everythingElseIsUnknown() {
    assertInstanceOf(RegistryRoute.Unknown.class, RegistryRoute.parse("/"));
    assertInstanceOf(RegistryRoute.Unknown.class, RegistryRoute.parse("/v3/a/manifests/x"));
    assertInstanceOf(RegistryRoute.Unknown.class, RegistryRoute.parse("/v2/a/manifests/"));
    assertInstanceOf(RegistryRoute.Unknown.class, RegistryRoute.parse("/v2/manifests/x"));
    assertInstanceOf(RegistryRoute.Unknown.class, RegistryRoute.parse("/v2/a/things/x"));
  }
}
