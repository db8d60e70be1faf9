global using Xunit;
global using FakeHttp = Veritee.TestSupport.LoopbackHttpServer;
