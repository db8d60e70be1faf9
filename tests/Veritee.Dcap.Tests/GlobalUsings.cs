global using Xunit;
global using FakePcs = Veritee.TestSupport.LoopbackHttpServer;
global using FakeRequest = Veritee.TestSupport.LoopbackHttpServer.Request;
global using FakeResponse = Veritee.TestSupport.LoopbackHttpServer.Response;
