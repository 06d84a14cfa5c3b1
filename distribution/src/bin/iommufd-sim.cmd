@echo off
rem iommufd-sim launcher of the binary distribution (Windows): runs dev.iommufd.cli.IommufdSim with every jar in lib\.
rem Java: %JAVA_HOME%\bin\java.exe if JAVA_HOME is set, else java on the PATH (Java 17 or newer).
rem JVM options: IOMMUFD_SIM_JAVA_OPTS.
setlocal
set "IOMMUFD_SIM_HOME=%~dp0.."
set "JAVA_EXE=java"
if defined JAVA_HOME set "JAVA_EXE=%JAVA_HOME%\bin\java.exe"
"%JAVA_EXE%" %IOMMUFD_SIM_JAVA_OPTS% -cp "%IOMMUFD_SIM_HOME%\lib\*" dev.iommufd.cli.IommufdSim %*
exit /b %ERRORLEVEL%
